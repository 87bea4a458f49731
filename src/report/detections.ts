import { toJson } from '../common/json.js';
import type { Detection } from '../hunt/hunt.js';

/** Rule levels from least to most severe. */
export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'] as const;

export function levelRank(level: string | undefined): number {
  return LEVELS.indexOf((level ?? '').toLowerCase() as (typeof LEVELS)[number]);
}

/** One detection as a JSON line. */
export function detectionJson(d: Detection): string {
  const r = d.rule.rule;
  return toJson({
    rule: { id: r.id ?? null, title: r.title, level: r.level ?? null, status: r.status ?? null, tags: r.tags, techniques: d.rule.techniques, file: r.file },
    timestamp: d.timestamp,
    file: d.file,
    record_id: d.recordId,
    computer: d.computer,
    channel: d.channel,
    event_id: d.eventId,
    event: d.event,
    ...(d.events ? { correlation: { group: d.group, events: d.events } } : {}),
  });
}

export const CSV_HEADER = ['timestamp', 'level', 'rule_title', 'rule_id', 'computer', 'channel', 'event_id', 'record_id', 'file', 'techniques'];

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
}

export function detectionCsv(d: Detection): string {
  const r = d.rule.rule;
  return [d.timestamp, r.level ?? '', r.title, r.id ?? '', d.computer, d.channel, d.eventId, d.recordId, d.file, d.rule.techniques.join(' ')].map(csvCell).join(',');
}

/** A row of the terminal table: timestamp, level, rule, computer, event. */
export function detectionRow(d: Detection): string[] {
  return [d.timestamp.replace('T', ' ').slice(0, 19), d.rule.rule.level ?? '', d.rule.rule.title, d.computer, `${d.channel} ${d.eventId}`];
}

export function formatTable(rows: string[][], header: string[], maxWidth = 60): string {
  const cut = (s: string) => (s.length > maxWidth ? s.slice(0, maxWidth - 1) + '…' : s);
  const all = [header, ...rows].map((r) => r.map(cut));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
