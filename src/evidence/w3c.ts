import { normaliseTime } from './normalize.js';
import { readTextBlocks } from './text-blocks.js';

/** A line longer than this is reported and skipped (a log line is a request, not a file). */
export const MAX_LINE_CHARS = 1024 * 1024;

/**
 * The directives in force for a W3C-style log's lines: IIS's extended log format (`#Fields:` names
 * separated by spaces, values by spaces, `+` for spaces inside a value) and Exchange's logs (HttpProxy,
 * ECP, OAB generator, Message Tracking …: `#Fields:` and values separated by commas, quoted as CSV).
 * A file may change them at any line: IIS writes a new header when logging settings change.
 */
export interface W3cHeader {
  software: string;
  version: string;
  logType: string;
  fields: readonly string[];
  /** Comma-separated values (Exchange), else space-separated (IIS). */
  comma: boolean;
  /** What events of this log are called in their Channel: `IIS` for IIS logs, an Exchange log's `#Log-type`. */
  channel: string;
}

/** A data line of a W3C-style log with the header it is under. */
export interface W3cLine {
  header: W3cHeader;
  text: string;
  /** 1-based. */
  lineNo: number;
}

const EMPTY_HEADER: W3cHeader = { software: '', version: '', logType: '', fields: [], comma: false, channel: 'W3C' };

/** Whether a text (a file's start) is a W3C-style log: its first line is a directive. */
export function looksLikeW3c(text: string): boolean {
  return /^#(Software|Version|Fields|Date|Log-type|Start-Date):/.test(text.replace(/^\uFEFF/, ''));
}

function channelOf(h: Omit<W3cHeader, 'channel'>): string {
  if (/Internet Information Services/i.test(h.software)) return 'IIS';
  if (h.logType) return h.logType;
  return h.comma ? 'W3C' : 'IIS';
}

function directive(h: W3cHeader, line: string): W3cHeader {
  const colon = line.indexOf(':');
  if (colon < 0) return h;
  const name = line.slice(1, colon).trim().toLowerCase();
  const value = line.slice(colon + 1).trim();
  let next: Omit<W3cHeader, 'channel'>;
  switch (name) {
    case 'software': next = { ...h, software: value }; break;
    case 'version': next = { ...h, version: value }; break;
    case 'log-type': next = { ...h, logType: value }; break;
    case 'fields': {
      const comma = value.includes(',');
      next = { ...h, comma, fields: (comma ? value.split(',') : value.split(/\s+/)).map((f) => f.trim()) };
      break;
    }
    default: return h;
  }
  return { ...next, channel: channelOf(next) };
}

/**
 * The data lines of a W3C-style log with the directives in force for each, streamed a block at a
 * time. A quoted value may run over line ends (Exchange's CSV). Over-long lines are reported and skipped.
 */
export function* readW3cLines(file: string, onError: (line: number, message: string) => void): Generator<W3cLine> {
  let header = EMPTY_HEADER;
  let carry = '';
  let lineNo = 0;
  let skipping = false;
  let pending: { text: string; lineNo: number } | undefined;
  const take = function* (raw: string): Generator<W3cLine> {
    lineNo++;
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (pending) {
      pending.text += `\n${line}`;
      if (pending.text.length > MAX_LINE_CHARS) {
        onError(pending.lineNo, `a quoted value runs past ${MAX_LINE_CHARS} characters; skipped to line ${lineNo}`);
        pending = undefined;
        return;
      }
      if (quotesBalanced(pending.text)) {
        yield { header, text: pending.text, lineNo: pending.lineNo };
        pending = undefined;
      }
      return;
    }
    if (line.length === 0) return;
    if (line.charCodeAt(0) === 35 /* # */) {
      header = directive(header, line);
      return;
    }
    if (header.comma && line.includes('"') && !quotesBalanced(line)) {
      pending = { text: line, lineNo };
      return;
    }
    yield { header, text: line, lineNo };
  };
  for (const block of readTextBlocks(file)) {
    let at = 0;
    for (;;) {
      const nl = block.indexOf('\n', at);
      if (nl < 0) {
        if (!skipping) carry += block.slice(at);
        if (carry.length > MAX_LINE_CHARS) {
          onError(lineNo + 1, `line longer than ${MAX_LINE_CHARS} characters; skipped`);
          carry = '';
          skipping = true;
        }
        break;
      }
      if (skipping) {
        skipping = false;
        lineNo++;
      } else {
        const raw = carry ? carry + block.slice(at, nl) : block.slice(at, nl);
        carry = '';
        yield* take(raw);
      }
      at = nl + 1;
    }
  }
  if (carry && !skipping) yield* take(carry);
  if (pending) {
    onError(pending.lineNo, 'the file ends inside a quoted value');
    yield { header, text: pending.text, lineNo: pending.lineNo };
  }
}

function quotesBalanced(text: string): boolean {
  let n = 0;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) n++;
  return n % 2 === 0;
}

/** The values of a CSV line ("" inside quotes is a quote). */
function splitCsv(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line.charCodeAt(i) === 34) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) {
          value += line.slice(j);
          j = line.length;
          break;
        }
        value += line.slice(j, q);
        if (line.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      // Anything between the closing quote and the comma belongs to the value too (as csv-parse's relax_quotes has it).
      const comma = line.indexOf(',', j);
      const end = comma < 0 ? line.length : comma;
      out.push(value + line.slice(j, end));
      i = end + 1;
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

/**
 * A line's values by field. IIS writes spaces inside values as `+`, but logs edited or written by
 * other tools may not: surplus values are taken to be the user agent's words when there is one.
 */
export function w3cValues(h: W3cHeader, text: string, onProblem?: (message: string) => void): string[] {
  const values = h.comma ? splitCsv(text) : text.split(' ');
  const n = h.fields.length;
  if (values.length > n && !h.comma) {
    const ua = h.fields.indexOf('cs(User-Agent)');
    if (ua >= 0) values.splice(ua, values.length - n + 1, values.slice(ua, ua + values.length - n + 1).join(' '));
  }
  if (values.length !== n && onProblem) onProblem(`${values.length} values for ${n} fields${values.length < n ? ' (line cut short?)' : ''}`);
  return values;
}

const TIME_FIELDS = ['DateTime', 'date-time', 'Timestamp', 'TimeStamp', 'datetime', 'time-stamp'];
const HOST_FIELDS = ['s-computername', 'ServerHostName', 'ServerName', 'server-hostname', 'Server'];

/** The request's URI as the client sent it (path, then `?` and the query when there is one). */
function requestUri(stem: string | undefined, query: string | undefined): string | undefined {
  if (stem === undefined) return undefined;
  if (!query || query === '-') return stem;
  return query.startsWith('?') ? stem + query : `${stem}?${query}`;
}

/**
 * A log line as an event in evtx_dump's shape: System holds the log's kind as Channel (`IIS`, or the
 * Exchange log's type: `HttpProxy Logs`, `ECP Server Log` …), the time (IIS's date and time are UTC),
 * the server and the line number as EventRecordID; EventData holds the fields as the log names them,
 * plus `RequestUri` (path and query together) for web requests.
 */
export function w3cEvent(h: W3cHeader, values: readonly string[], lineNo: number): unknown {
  const data: Record<string, string> = {};
  const n = Math.min(values.length, h.fields.length);
  for (let i = 0; i < n; i++) data[h.fields[i]!] = values[i]!;
  let time: string | undefined;
  if (data.date !== undefined && data.time !== undefined) time = `${data.date}T${data.time}Z`;
  else for (const f of TIME_FIELDS) if (data[f]) { time = data[f]; break; }
  let host: string | undefined;
  for (const f of HOST_FIELDS) if (data[f] && data[f] !== '-') { host = data[f]; break; }
  const uri = requestUri(data['cs-uri-stem'] ?? data.UrlStem, data['cs-uri-query'] ?? data.UrlQuery);
  if (uri !== undefined) data.RequestUri = uri;
  const system: Record<string, unknown> = {};
  if (h.software) system.Provider = { '#attributes': { Name: h.software } };
  if (time !== undefined) system.TimeCreated = { '#attributes': { SystemTime: normaliseTime(time) } };
  system.EventRecordID = lineNo;
  system.Channel = h.channel;
  if (host !== undefined) system.Computer = host;
  return { Event: { System: system, EventData: data } };
}

/** Problems reported per file; past this many, one line says how many more there were. */
const MAX_PROBLEMS = 20;

/** The events of a W3C-style log (IIS, Exchange), a line at a time. */
export function* readW3cEvents(file: string, report: (line: number, message: string) => void): Generator<unknown> {
  let problems = 0;
  let lastLine = 0;
  const onError = (line: number, message: string) => {
    if (++problems <= MAX_PROBLEMS) report(line, message);
    lastLine = line;
  };
  try {
    yield* w3cEvents(file, onError);
  } finally {
    if (problems > MAX_PROBLEMS) report(lastLine, `… and ${problems - MAX_PROBLEMS} more problems in this file`);
  }
}

function* w3cEvents(file: string, onError: (line: number, message: string) => void): Generator<unknown> {
  for (const l of readW3cLines(file, onError)) {
    if (l.header.fields.length === 0) {
      onError(l.lineNo, 'a data line before any #Fields directive; skipped');
      continue;
    }
    yield w3cEvent(l.header, w3cValues(l.header, l.text, (m) => onError(l.lineNo, m)), l.lineNo);
  }
}
