import { closeSync, openSync, readSync } from 'node:fs';
import { type Event, EvtxEvent } from '../evidence/event.js';
import { type EvtxDiagnostic, readEvtxFile } from '../evidence/evtx/index.js';
import { readJsonEvents } from '../evidence/json.js';
import type { CompiledRule } from '../sigma/ruleset.js';
import type { Correlator, CorrelationDetection } from './correlate.js';
import type { RuleIndex } from './rule-index.js';
import { valueText } from '../sigma/modifiers.js';
import { techniquesOf } from '../sigma/ruleset.js';

/** A rule that matched an event, with where the event came from. */
export interface Detection {
  rule: CompiledRule;
  /** When the event happened (its SystemTime), ISO-8601 UTC. */
  timestamp: string;
  file: string;
  recordId: string;
  computer: string;
  channel: string;
  eventId: string;
  /** The event in evtx_dump's shape (for a correlation, its last event). */
  event: unknown;
  /** For a correlation: the events it counted, and the values of its group-by fields. */
  events?: unknown[];
  group?: Record<string, string>;
}

export interface HuntStats {
  files: number;
  events: number;
  detections: number;
  unreadable: string[];
}

export type InputKind = 'evtx' | 'json' | 'unknown';

/** Tells a file's format by its first bytes, not its name. */
export function sniff(file: string): InputKind {
  const head = Buffer.alloc(64);
  let n = 0;
  try {
    const fd = openSync(file, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return 'unknown';
  }
  if (head.toString('latin1', 0, 8) === 'ElfFile\0') return 'evtx';
  const text = head.toString('utf8', 0, n).replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('{') || text.startsWith('[')) return 'json';
  return 'unknown';
}

/** Where a detection's event is: its time (SystemTime, else the record's), record id, host, channel, id. */
function eventPlace(view: Event, fallbackTime: string): Pick<Detection, 'timestamp' | 'recordId' | 'computer' | 'channel' | 'eventId'> {
  const text = (f: string) => valueText(view.get(f)) ?? '';
  return {
    timestamp: valueText(view.get('TimeCreated_SystemTime')) ?? fallbackTime,
    recordId: text('EventRecordID'),
    computer: text('Computer'),
    channel: text('Channel'),
    eventId: text('EventID'),
  };
}

/**
 * Runs every rule over every event of one file, yielding detections in file order. Detections of
 * rules that correlations count go to the correlator, and are yielded too unless those correlations
 * keep them to themselves (`generate: false`, the default).
 */
export function* huntFile(file: string, rules: RuleIndex, stats: HuntStats, onDiagnostic: (message: string) => void, correlator?: Correlator): Generator<Detection> {
  const kind = sniff(file);
  let events: Iterable<{ event: unknown; timestamp: string }>;
  if (kind === 'evtx') {
    events = (function* () {
      const it = readEvtxFile(file, { render: 'event', onDiagnostic: (d: EvtxDiagnostic) => d.severity === 'error' && onDiagnostic(`${d.file}: chunk ${d.chunk}, offset 0x${d.offset.toString(16)}: ${d.message}`) });
      for (;;) {
        const n = it.next();
        if (n.done) {
          if (!n.value.readable) stats.unreadable.push(file);
          return;
        }
        yield { event: n.value.event, timestamp: n.value.timestamp };
      }
    })();
  } else if (kind === 'json') {
    events = readJsonEvents(file, (line, message) => onDiagnostic(`${file}:${line}: ${message}`)).map((event) => ({ event, timestamp: '' }));
  } else {
    onDiagnostic(`${file}: not a format spoor reads (EVTX, JSON, JSONL); skipped`);
    return;
  }
  stats.files++;
  for (const { event, timestamp } of events) {
    stats.events++;
    const view = new EvtxEvent(event);
    const matched = rules.match(view);
    if (matched.length === 0) continue;
    const place = eventPlace(view, timestamp);
    for (const rule of matched) {
      if (correlator?.wants(rule.rule)) {
        correlator.add({ ruleId: rule.rule.id, ruleName: rule.rule.name, timeMs: Date.parse(place.timestamp), event: view, payload: event });
        if (!correlator.reportsOwnDetections(rule.rule)) continue;
      }
      stats.detections++;
      yield { rule, file, event, ...place };
    }
  }
}

/** A correlation that held, as a detection: its rule, its last event, all its events and its group. */
export function correlationDetection(d: CorrelationDetection): Detection {
  const last = d.hits[d.hits.length - 1]!;
  const rule: CompiledRule = { rule: d.correlation.rule, techniques: techniquesOf(d.correlation.rule.tags), alternatives: [], match: () => false };
  const flat = (p: unknown): unknown[] => (Array.isArray(p) ? p.flatMap(flat) : [p]);
  const events = d.hits.flatMap((h) => flat(h.payload));
  return {
    rule,
    ...eventPlace(last.event, ''),
    timestamp: new Date(d.timeMs).toISOString(),
    file: '',
    event: events[events.length - 1],
    events,
    group: d.group,
  };
}
