import { toJson } from '../common/json.js';
import type { Detection } from '../hunt/hunt.js';
import type { HuntRecord } from './hunt-output.js';


/** One detection as a JSON line. */
export function detectionJson(d: Detection): string {
  const r = d.rule.rule;
  return toJson({
    rule: { id: r.id ?? null, title: r.title, level: r.level ?? null, status: r.status ?? null, tags: r.tags, techniques: d.rule.techniques, cves: d.rule.cves, file: r.file },
    timestamp: d.timestamp,
    file: d.file,
    record_id: d.recordId,
    ...(d.line ? { line: d.line } : {}),
    computer: d.computer,
    channel: d.channel,
    event_id: d.eventId,
    matched: d.matched ?? {},
    event: d.event,
    ...(d.events ? { correlation: { group: d.group, events: d.events } } : {}),
  });
}

export const CSV_HEADER = ['timestamp', 'level', 'rule_title', 'rule_id', 'computer', 'channel', 'event_id', 'record_id', 'file', 'techniques'];

export function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
}

export function detectionCsv(d: Detection): string {
  const r = d.rule.rule;
  return [d.timestamp, r.level ?? '', r.title, r.id ?? '', d.computer, d.channel, d.eventId, d.recordId, d.file, d.rule.techniques.join(' ')].map(csvCell).join(',');
}

/** A detection read back from a hunt's JSON lines, as the same CSV row. */
export function huntRecordCsv(d: HuntRecord): string {
  return [d.timestamp, d.rule.level ?? '', d.rule.title, d.rule.id ?? '', d.computer, d.channel, String(d.event_id), String(d.record_id), d.file, d.rule.techniques.join(' ')].map(csvCell).join(',');
}

/**
 * One detection as a Timesketch event (JSONL import): `message`, `datetime` and `timestamp_desc`,
 * then the rule's and the event's particulars as flat fields.
 */
export function detectionTimesketch(d: Detection): string {
  const r = d.rule.rule;
  return toJson({
    message: `${r.title} [${r.level ?? 'unknown'}] on ${d.computer || 'unknown host'}: ${d.channel} ${d.eventId}`,
    datetime: d.timestamp,
    timestamp_desc: d.events ? 'Correlation Window End' : 'Event Recorded',
    rule_id: r.id ?? '',
    rule_title: r.title,
    level: r.level ?? '',
    status: r.status ?? '',
    tags: r.tags,
    techniques: d.rule.techniques,
    computer: d.computer,
    channel: d.channel,
    event_id: d.eventId,
    record_id: d.recordId,
    ...(d.line ? { line: d.line } : {}),
    source_file: d.file,
    ...Object.fromEntries(Object.entries(d.matched ?? {}).map(([k, v]) => [`field_${k}`, v])),
  });
}

/** Formats event times for people: UTC, or a named time zone (`--timezone Europe/Berlin`). */
export function timeFormatter(timeZone = 'UTC'): (iso: string) => string {
  // Swedish writes dates as ISO does: 2021-03-02 23:47:11.
  const options = { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' } as const;
  // Made when first needed: making one loads ICU's data (~25 ms), which JSON output never needs.
  let f: Intl.DateTimeFormat | undefined;
  return (iso) => {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? iso : (f ??= new Intl.DateTimeFormat('sv-SE', options)).format(t);
  };
}

/** A row of the terminal table: time, level, rule, computer, event. */
export function detectionRow(d: Detection, time: (iso: string) => string = timeFormatter()): string[] {
  // Findings about files (not events) name the file instead.
  const where = d.channel === 'File' && typeof d.matched?.path === 'string' ? `File ${d.matched.path}` : d.line && !d.channel ? `line ${d.line}` : `${d.channel} ${d.eventId}`;
  return [time(d.timestamp), d.rule.rule.level ?? '', d.rule.rule.title, d.computer, where];
}

const LEVEL_COLOURS: Record<string, string> = { critical: '\x1b[1;31m', high: '\x1b[31m', medium: '\x1b[33m', low: '\x1b[36m', informational: '\x1b[2m' };

/**
 * Text from evidence made safe for a terminal: control characters (an escape sequence in a host or
 * mailbox name would move the cursor, recolour or retitle the terminal) shown as \xNN.
 */
export function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A table with columns padded to their widest cell, wide cells elided; with `colourColumn`, that column's level names coloured. */
export function formatTable(rows: string[][], header: string[], maxWidth = 60, colourColumn?: number): string {
  const cut = (raw: string) => {
    const s = printable(raw);
    return s.length > maxWidth ? s.slice(0, maxWidth - 1) + '…' : s;
  };
  const all = [header, ...rows].map((r) => r.map(cut));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const paint = (c: string, i: number, row: number) => {
    const colour = row > 0 && i === colourColumn ? LEVEL_COLOURS[c.trim()] : undefined;
    return colour ? colour + c + '\x1b[0m' : c;
  };
  return all.map((r, row) => r.map((c, i) => paint(c.padEnd(widths[i]!), i, row)).join('  ').trimEnd()).join('\n') + '\n';
}
