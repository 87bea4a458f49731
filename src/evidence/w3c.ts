import { ColumnEvent } from './column-event.js';
import { normaliseTime } from './normalize.js';
import { readTextChunks } from './text-blocks.js';

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
 * Which lines a caller wants as events, the others only counted: for each log kind (the header's
 * channel), a filter that finds in a block of text where lines of interest may be.
 */
export interface LineSelection {
  filterFor(channel: string): { hits(text: string, from: number, ascii: boolean): number[] | undefined } | undefined;
  onSkipped(): void;
}

/**
 * The data lines of a W3C-style log with the directives in force for each, streamed a block at a
 * time. A quoted value may run over line ends (Exchange's CSV). Over-long lines are reported and
 * skipped. With a selection, lines its filter finds nothing in are counted and not yielded: the
 * filter runs over whole blocks, so a line passed over costs a search for its end.
 */
export function* readW3cLines(file: string, onError: (line: number, message: string) => void, select?: LineSelection): Generator<W3cLine> {
  let header = EMPTY_HEADER;
  let filterHeader: W3cHeader | undefined;
  let filter: ReturnType<LineSelection['filterFor']>;
  let lineNo = 0;
  let carry = '';
  let skipping = false;
  let pending: { text: string; lineNo: number } | undefined;

  /** The lines of text[start .. last] (last is a '\n'). */
  function* lines(text: string, start: number, last: number, ascii: boolean): Generator<W3cLine> {
    // The filter's hits in this block, found once and walked with the lines; found again after a directive.
    let hits: number[] | undefined;
    let h = 0;
    let hitsValid = false;
    const selected = (pos: number, end: number): boolean => {
      if (!select || !header.fields.length) return true;
      if (filterHeader !== header) {
        filterHeader = header;
        filter = select.filterFor(header.channel);
        hitsValid = false;
      }
      if (!filter) return true;
      if (!hitsValid) {
        hits = filter.hits(text, pos, ascii);
        h = 0;
        hitsValid = true;
      }
      if (!hits) return true;
      while (h < hits.length && hits[h]! < pos) h++;
      return h < hits.length && hits[h]! < end;
    };
    // The next quote in the text: looked for again only once passed, not for every line.
    let nextQuote = -2;
    const opensQuote = (pos: number, end: number): boolean => {
      if (nextQuote !== -1 && nextQuote < pos) nextQuote = text.indexOf('"', pos);
      return nextQuote >= 0 && nextQuote < end && !quotesBalanced(text.slice(pos, end));
    };
    let pos = start;
    while (pos <= last) {
      const nl = text.indexOf('\n', pos);
      lineNo++;
      let end = nl;
      if (end > pos && text.charCodeAt(end - 1) === 13) end--;
      if (lineNo === 1 && text.charCodeAt(pos) === 0xfeff) pos++;
      if (pending) {
        const more = text.slice(pos, end);
        pending.text += `\n${more}`;
        if (pending.text.length > MAX_LINE_CHARS) {
          onError(pending.lineNo, `a quoted value runs past ${MAX_LINE_CHARS} characters; skipped to line ${lineNo}`);
          pending = undefined;
        } else if (!quotesBalanced(more)) {
          // Parity line by line (an odd count closes the value): rescanning the record would be quadratic.
          const whole = pending;
          pending = undefined;
          if (wanted(whole.text)) yield { header, text: whole.text, lineNo: whole.lineNo };
        }
      } else if (end === pos) {
        // an empty line: neither event nor directive
      } else if (text.charCodeAt(pos) === 35 /* # */) {
        header = directive(header, text.slice(pos, end));
      } else if (header.comma && opensQuote(pos, end)) {
        pending = { text: text.slice(pos, end), lineNo };
      } else if (selected(pos, end)) {
        yield { header, text: text.slice(pos, end), lineNo };
      } else {
        select!.onSkipped();
      }
      pos = nl + 1;
    }
  }

  /** Whether a record spread over lines is wanted (it is tested on its own). */
  function wanted(text: string): boolean {
    if (!select || !header.fields.length) return true;
    const f = select.filterFor(header.channel);
    const hits = f?.hits(text, 0, false);
    if (!f || !hits || hits.length) return true;
    select.onSkipped();
    return false;
  }

  let carryAscii = true;
  for (const block of readTextChunks(file)) {
    const text = block.text;
    let start = 0;
    if (skipping) {
      const nl = text.indexOf('\n');
      if (nl < 0) continue;
      skipping = false;
      lineNo++;
      start = nl + 1;
    } else if (carry) {
      // The line begun in the last block is finished on its own: joining blocks would copy them.
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        const line = `${carry}${text.slice(0, nl)}\n`;
        carry = '';
        yield* lines(line, 0, line.length - 1, carryAscii && block.ascii);
        start = nl + 1;
      } else {
        carry += text;
        carryAscii &&= block.ascii;
        start = text.length;
      }
    }
    const last = text.lastIndexOf('\n');
    if (last >= start) {
      yield* lines(text, start, last, block.ascii);
      carry = text.slice(last + 1);
      carryAscii = block.ascii;
    } else if (start < text.length) {
      carry = text.slice(start);
      carryAscii = block.ascii;
    }
    if (carry.length > MAX_LINE_CHARS) {
      onError(lineNo + 1, `line longer than ${MAX_LINE_CHARS} characters; skipped`);
      carry = '';
      skipping = true;
    }
  }
  if (carry && !skipping) yield* lines(`${carry}\n`, 0, carry.length, carryAscii);
  if (pending) {
    onError(pending.lineNo, 'the file ends inside a quoted value');
    if (wanted(pending.text)) yield { header, text: pending.text, lineNo: pending.lineNo };
  }
}

function quotesBalanced(text: string): boolean {
  let n = 0;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) n++;
  return n % 2 === 0;
}

/**
 * The values of a CSV record ("" inside quotes is a quote; a record may run over line ends). Not
 * csv-parse: called once a kept line, its setup (buffers, delimiter discovery) cost some 30 times the
 * split itself, a third of a scan's time with SigmaHQ's rules. Lines without quotes are split plainly.
 */
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

/** The System part of a line's event: Provider, time, line number, Channel, server. */
function w3cSystem(h: W3cHeader, field: (name: string) => string | undefined, lineNo: number): Record<string, unknown> {
  let time: string | undefined;
  const date = field('date');
  const clock = field('time');
  if (date !== undefined && clock !== undefined) time = `${date}T${clock}Z`;
  else for (const f of TIME_FIELDS) if (field(f)) { time = field(f); break; }
  let host: string | undefined;
  for (const f of HOST_FIELDS) {
    const v = field(f);
    if (v && v !== '-') { host = v; break; }
  }
  const system: Record<string, unknown> = {};
  if (h.software) system.Provider = { '#attributes': { Name: h.software } };
  if (time !== undefined) system.TimeCreated = { '#attributes': { SystemTime: normaliseTime(time) } };
  system.EventRecordID = lineNo;
  system.Channel = h.channel;
  if (host !== undefined) system.Computer = host;
  return system;
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
  const uri = requestUri(data['cs-uri-stem'] ?? data.UrlStem, data['cs-uri-query'] ?? data.UrlQuery);
  if (uri !== undefined) data.RequestUri = uri;
  return { Event: { System: w3cSystem(h, (f) => data[f], lineNo), EventData: data } };
}

/** A log line as the Event rules see, read straight from its values (see ColumnEvent), with `RequestUri` for web requests. */
export class W3cEvent extends ColumnEvent {
  private uri: { name: string; value: string } | undefined | null = null;

  constructor(private readonly h: W3cHeader, vals: readonly string[], private readonly lineNo: number) {
    super(h.fields, vals);
  }

  protected override extra(): { name: string; value: string } | undefined {
    if (this.uri === null) {
      const value = requestUri(this.data('cs-uri-stem') ?? this.data('UrlStem'), this.data('cs-uri-query') ?? this.data('UrlQuery'));
      this.uri = value === undefined ? undefined : { name: 'RequestUri', value };
    }
    return this.uri;
  }

  protected systemElement(): Record<string, unknown> {
    return w3cSystem(this.h, (f) => this.data(f), this.lineNo);
  }

  toRaw(): unknown {
    return w3cEvent(this.h, this.vals, this.lineNo);
  }
}

/** The events of a W3C-style log as views (see W3cEvent), a line at a time. */
export function* readW3cViews(file: string, report: (line: number, message: string) => void, select?: LineSelection): Generator<W3cEvent> {
  yield* reportingAtMost(report, (onError) => w3cLineEvents(file, onError, select, (h, values, lineNo) => new W3cEvent(h, values, lineNo)));
}

/** Problems reported per file; past this many, one line says how many more there were. */
const MAX_PROBLEMS = 20;

function* reportingAtMost<T>(report: (line: number, message: string) => void, read: (onError: (line: number, message: string) => void) => Generator<T>): Generator<T> {
  let problems = 0;
  let lastLine = 0;
  const onError = (line: number, message: string) => {
    if (++problems <= MAX_PROBLEMS) report(line, message);
    lastLine = line;
  };
  try {
    yield* read(onError);
  } finally {
    if (problems > MAX_PROBLEMS) report(lastLine, `… and ${problems - MAX_PROBLEMS} more problems in this file`);
  }
}

function* w3cLineEvents<T>(file: string, onError: (line: number, message: string) => void, select: LineSelection | undefined, make: (h: W3cHeader, values: string[], lineNo: number) => T): Generator<T> {
  for (const l of readW3cLines(file, onError, select)) {
    if (l.header.fields.length === 0) {
      onError(l.lineNo, 'a data line before any #Fields directive; skipped');
      continue;
    }
    yield make(l.header, w3cValues(l.header, l.text, (m) => onError(l.lineNo, m)), l.lineNo);
  }
}
