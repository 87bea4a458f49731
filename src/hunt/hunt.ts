import { statSync } from 'node:fs';
import { readHead } from '../common/read-head.js';
import { type Event, EvtxEvent, type RawEvent } from '../evidence/event.js';
import { type EvtxDiagnostic, readEvtxFile } from '../evidence/evtx/index.js';
import { MAX_JSON_VALUE_BYTES, isJsonLines, readJsonEntries } from '../evidence/json.js';
import { type ByteRange, lineRanges } from '../evidence/text-blocks.js';
import { eventTime, normaliseJsonEvent } from '../evidence/normalize.js';
import { csvRanges, readCsvEvents } from '../evidence/csv.js';
import { auditDataRecord } from '../evidence/cloud.js';
import { readXmlEvents } from '../evidence/xml.js';
import { type LineSelection, looksLikeW3c, readW3cViews } from '../evidence/w3c.js';
import type { CompiledRule } from '../sigma/ruleset.js';
import type { Correlator, CorrelationDetection } from './correlate.js';
import type { RuleIndex } from './rule-index.js';
import { type TextFilter, textFilter } from './text-filter.js';
import { valueText } from '../sigma/modifiers.js';
import { cvesOf, techniquesOf } from '../sigma/ruleset.js';
import { planUnits } from '../evidence/evtx/work.js';
import type { IocHit, IocMatcher } from './ioc/matcher.js';
import { syntheticRule } from './synthetic-rule.js';
import { detached } from '../common/detached.js';

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
  /** The values of the fields the rule tests, as the event has them. */
  matched?: Record<string, unknown>;
  /** The line the event starts on in its file, for formats whose events have no record number of their own (JSON, CSV). */
  line?: number;
  /** For a correlation: the events it counted, and the values of its group-by fields. */
  events?: unknown[];
  group?: Record<string, string>;
}

export interface HuntStats {
  files: number;
  events: number;
  detections: number;
  unreadable: string[];
  /** Lines of each cut file read in its units so far: a later unit's lines count on from them. */
  linesBefore?: Map<string, number>;
}

export type InputKind = 'evtx' | 'json' | 'xml' | 'w3c' | 'csv' | 'zip' | 'unknown';

/** Tells a file's format by its first bytes, not its name (a CSV file is one whose first line reads as a header). */
export function sniff(file: string): InputKind {
  const head = readHead(file, 4096);
  if (!head) return 'unknown';
  if (head.toString('latin1', 0, 8) === 'ElfFile\0') return 'evtx';
  if (head.toString('latin1', 0, 4) === 'PK\x03\x04') return 'zip';
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('{') || text.startsWith('[')) return 'json';
  if (text.startsWith('<')) return 'xml';
  if (looksLikeW3c(text)) return 'w3c';
  if (/\.(csv|tsv)$/i.test(file) || looksLikeCsv(text)) return 'csv';
  return 'unknown';
}

/** A header of three or more plain column names, and a next line with as many commas. */
function looksLikeCsv(text: string): boolean {
  if (/[\x00-\x08]/.test(text)) return false;
  const [header, row] = text.split(/\r?\n/, 2);
  if (!header || row === undefined || !/^("?[\w @.#/()-]+"?,){2,}"?[\w @.#/()-]+"?$/.test(header)) return false;
  const commas = (line: string) => line.replace(/"[^"]*"/g, '').split(',').length;
  return commas(row) === commas(header);
}

/** Where a detection's event is: its time (SystemTime, else the record's), record id, host, channel, id. */
/** The fields that say where an event is (what `eventPlace` reads): a correlator keeps them of each hit. */
export const PLACE_FIELDS = ['TimeCreated_SystemTime', 'EventRecordID', 'Computer', 'Channel', 'EventID'] as const;

function eventPlace(view: Event, fallbackTime: string): Pick<Detection, 'timestamp' | 'recordId' | 'computer' | 'channel' | 'eventId'> {
  const [time, recordId, computer, channel, eventId] = PLACE_FIELDS;
  const text = (f: string) => valueText(view.get(f)) ?? '';
  return {
    timestamp: valueText(view.get(time)) ?? fallbackTime,
    recordId: text(recordId),
    computer: text(computer),
    channel: text(channel),
    eventId: text(eventId),
  };
}

/** A piece of hunting work: a file, or some chunks of a large EVTX file (units of a file are handed back in order). */
export interface HuntUnit {
  file: string;
  /** How detections name the file, when not by its path (an entry of an archive: archive.zip!entry). */
  name?: string;
  kind: InputKind;
  firstChunk?: number;
  endChunk?: number;
  /** The bytes of a JSON Lines file the unit reads (a large one is cut at line starts). */
  range?: ByteRange;
  /** Index of the unit within its file; 0 counts the file. */
  part: number;
}

/** An event some rules matched: the rules by number (their order in the rule set), where it is, and the event. */
export interface EventMatch extends Pick<Detection, 'timestamp' | 'recordId' | 'computer' | 'channel' | 'eventId'> {
  rules: number[];
  /** For each rule, the values of the fields it tests. */
  matched: Record<string, unknown>[];
  /** Indicators of compromise the event holds. */
  iocs?: IocHit[];
  event: unknown;
  /** The line the event starts on in its unit (JSON, CSV). */
  line?: number;
}

/** What hunting one unit found: plain data, so that it can come back from a worker thread. */
export interface UnitHunt {
  matches: EventMatch[];
  events: number;
  /** Lines read in the unit, for a text file cut into units. */
  lines?: number;
  /** False when the file could not be read at all. */
  readable: boolean;
  diagnostics: string[];
}

/**
 * Bytes of a JSON Lines or CSV file per unit: a unit's matches are held until it is done (and a
 * worker's until the calling thread takes them in order). Measured with two threads, three runs
 * each interleaved: two 268 MB CSV files peaked at 349 MiB with 4 MB units against 369 with 8, one
 * 356 MB JSON Lines file at 307 against 317, in the same time; 2 MB units peaked lower still
 * (326 MiB) but took 15-25% longer (the calling thread's handling of results doubled).
 */
export const TEXT_UNIT_BYTES = 4 * 1024 * 1024;

/**
 * The units of the input files: EVTX files split by chunks, large JSON Lines and CSV files by records, so
 * that threads can share a large file and no unit's matches grow with the file.
 */
export function planHuntUnits(files: readonly { path: string; size: number; name?: string }[], textUnitBytes = TEXT_UNIT_BYTES): HuntUnit[] {
  return files.flatMap((f): HuntUnit[] => {
    const kind = sniff(f.path);
    const name = f.name === undefined ? {} : { name: f.name };
    const parts = (ranges: ByteRange[]) => ranges.map((range, part) => ({ file: f.path, ...name, kind, range, part }));
    if (kind === 'json' && f.size > textUnitBytes && isJsonLines(f.path)) return parts(lineRanges(f.path, f.size, textUnitBytes));
    if (kind === 'csv' && f.size > textUnitBytes) return parts(csvRanges(f.path, f.size, textUnitBytes));
    if (kind !== 'evtx') return [{ file: f.path, ...name, kind, part: 0 }];
    return planUnits(f.path, f.size).map((u) => ({ file: f.path, ...name, kind, firstChunk: u.firstChunk, endChunk: u.endChunk, part: u.part }));
  });
}

/** An event, as rules see it, and the time its reader gives it (the record's, for EVTX). */
/** An event read, its time, and for text formats without record numbers (JSON, CSV) the line it starts on in its unit. */
export type TimedEvent = { view: RawEvent; timestamp: string; line?: number };

/**
 * Whether a unit's file starts with Defender for Endpoint's device rows (advanced hunting's columns:
 * an ActionType, a DeviceName and the initiating process), read from its first 64 KiB: such input
 * needs the Defender pipeline.
 */
export function holdsDefenderRows(u: HuntUnit): boolean {
  if (u.part !== 0 || (u.kind !== 'json' && u.kind !== 'csv')) return false;
  const head = readHead(u.file, 64 * 1024)?.toString('utf8') ?? '';
  return head.includes('ActionType') && head.includes('DeviceName') && head.includes('InitiatingProcess');
}

/** About how many bytes of input a unit is (its chunks, or its file). */
export function unitSize(u: HuntUnit): number {
  if (u.firstChunk !== undefined && u.endChunk !== undefined) return (u.endChunk - u.firstChunk) * 65536;
  if (u.range) return u.range.end - u.range.start;
  try {
    return statSync(u.file).size;
  } catch {
    return 0;
  }
}

/** The events of a unit, with the time their reader gives them (the record's, for EVTX). */
export function unitEvents(unit: HuntUnit, result: UnitHunt, timeField?: string, lines?: LineSelection): Iterable<TimedEvent> | AsyncIterable<TimedEvent> {
  const onDiagnostic = (m: string) => result.diagnostics.push(m);
  const label = unit.name ?? unit.file;
  const at = (where: string | number, message: string) => onDiagnostic(`${label}:${where}: ${message}`);
  const timed = (event: unknown): TimedEvent => ({ view: new EvtxEvent(event), timestamp: eventTime(event) });
  switch (unit.kind) {
    case 'evtx':
      return (function* () {
        const it = readEvtxFile(unit.file, {
          render: 'view',
          firstChunk: unit.firstChunk,
          endChunk: unit.endChunk,
          onDiagnostic: (d: EvtxDiagnostic) => d.severity === 'error' && onDiagnostic(`${label}: chunk ${d.chunk}, offset 0x${d.offset.toString(16)}: ${d.message}`),
        });
        for (;;) {
          const n = it.next();
          if (n.done) {
            result.readable = n.value.readable;
            return;
          }
          yield { view: n.value.view!, timestamp: n.value.timestamp };
        }
      })();
    case 'json':
      return (function* () {
        // A later part of a cut file counts its lines from its first byte, and says so.
        const range = unit.range;
        const where = range?.start ? (line: number, m: string) => onDiagnostic(`${label}: line ${line} of the part from byte ${range.start}: ${m}`) : at;
        // JSON Lines (a cut file's parts always are) are read a line at a time: a broken line loses only itself.
        const entries = readJsonEntries(unit.file, where, MAX_JSON_VALUE_BYTES, range, range !== undefined || isJsonLines(unit.file));
        for (;;) {
          const next = entries.next();
          if (next.done) {
            result.lines = next.value;
            return;
          }
          yield { ...timed(normaliseJsonEvent(next.value.value, timeField)), line: next.value.line };
        }
      })();
    case 'xml':
      return (function* () {
        for (const event of readXmlEvents(unit.file, at)) yield timed(event);
      })();
    case 'w3c':
      return (function* () {
        // A line's time is read from it only if it matches (eventPlace asks the view).
        for (const view of readW3cViews(unit.file, at, lines)) yield { view, timestamp: '' };
      })();
    case 'csv':
      return (function* () {
        const range = unit.range;
        const where = range?.start ? (line: number, m: string) => onDiagnostic(`${label}: line ${line} of the part from byte ${range.start}: ${m}`) : at;
        const counted: { lines?: number } = {};
        // As for W3C: a row's time is read from it only if it matches (eventPlace asks the view).
        // A unified audit log export: each row's AuditData column is the record (the header says so, once).
        let audited: boolean | undefined;
        for (const { view, line } of readCsvEvents(unit.file, where, timeField, range, counted)) {
          audited ??= view.hasColumn('AuditData');
          const audit = audited ? auditDataRecord(view.column('AuditData')) : undefined;
          if (audit === undefined) yield { view, timestamp: '', line };
          else if (typeof audit === 'string') where(line, `${audit}; row skipped`);
          else yield { ...timed(normaliseJsonEvent(audit)), line };
        }
        if (range) result.lines = counted.lines;
      })();
    default:
      onDiagnostic(`${label}: not a format spoor reads (EVTX, JSON, JSONL, XML, IIS/Exchange logs, CSV, zip); skipped`);
      return [];
  }
}

/** What a detection shows as matched: the values of the fields its rule tests, and for keyword rules the values holding a keyword. */
export function matchedValues(view: Event, rule: CompiledRule): Record<string, unknown> {
  const out = fieldValues(view, rule.fields);
  if (rule.keywords) {
    const words = rule.keywords.map((k) => k.toLowerCase());
    const holding: string[] = [];
    for (const v of view.values()) {
      for (const item of Array.isArray(v) ? v : [v]) {
        const t = valueText(item);
        if (t !== undefined && holding.length < 20 && !holding.includes(t) && words.some((w) => t.toLowerCase().includes(w))) holding.push(t);
      }
    }
    if (holding.length) out.keywords = holding;
  }
  return out;
}

function fieldValues(view: Event, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = view.get(f);
    if (v !== undefined) out[f] = v;
  }
  return out;
}

/** The indicators an event's values hold. */
export function eventIocs(view: Event, iocs: IocMatcher): IocHit[] {
  const hits: IocHit[] = [];
  const seen = new Set<IocHit['indicator']>();
  const each = (v: unknown) => {
    const t = valueText(v);
    if (t !== undefined) iocs.matchText(t, hits, seen);
  };
  for (const v of view.values()) {
    if (Array.isArray(v)) v.forEach(each);
    else each(v);
  }
  return hits;
}

/**
 * Log lines (IIS, Exchange) are many and mostly harmless: a line none of whose rules' literals (nor
 * indicators) occurs in it is counted, not made an event. The rules and indicators say which lines
 * can be passed over; when one of them cannot say (a rule without literals), every line is an event.
 */
/** Line filters by rule index, indicators and log kind: built once a thread, not once a file. */
const lineFilters = new WeakMap<RuleIndex, Map<IocMatcher | undefined, Map<string, TextFilter | undefined>>>();

function lineSelection(rules: RuleIndex, iocs: IocMatcher | undefined, result: UnitHunt): LineSelection {
  let byIocs = lineFilters.get(rules);
  if (!byIocs) lineFilters.set(rules, (byIocs = new Map()));
  let filters = byIocs.get(iocs);
  if (!filters) byIocs.set(iocs, (filters = new Map()));
  const known = filters;
  return {
    filterFor(channel) {
      if (!known.has(channel)) {
        const iocLiterals = iocs?.size ? iocs.lineLiterals() : [];
        const ruleLiterals = rules.lineLiterals(channel);
        known.set(channel, ruleLiterals && iocLiterals ? textFilter([...ruleLiterals, ...iocLiterals]) : undefined);
      }
      return known.get(channel);
    },
    onSkipped: () => result.events++,
  };
}

/** Runs every rule (and, given some, indicators of compromise) over every event of a unit. */
export async function huntUnit(unit: HuntUnit, rules: RuleIndex, timeField?: string, iocs?: IocMatcher): Promise<UnitHunt> {
  const result: UnitHunt = { matches: [], events: 0, readable: true, diagnostics: [] };
  const events = unitEvents(unit, result, timeField, lineSelection(rules, iocs, result));
  const each = (e: TimedEvent) => {
    result.events++;
    const view = e.view;
    const matched = rules.matchNumbers(view);
    const hits = iocs?.size ? eventIocs(view, iocs) : undefined;
    if (matched.length || hits?.length) {
      // A match is held until its unit is done: its values must not keep the text they were read from.
      const event = view.toRaw();
      result.matches.push(detached({ rules: matched, matched: matched.map((n) => matchedValues(view, rules.rule(n))), ...(hits?.length ? { iocs: hits } : {}), event, ...eventPlace(view, e.timestamp), ...(e.line ? { line: e.line } : {}) }));
    }
  };
  // EVTX, JSON and XML are read synchronously: no promise per event on the hot path.
  if (Symbol.iterator in events) for (const e of events) each(e);
  else for await (const e of events) each(e);
  return result;
}

/**
 * The detections of a unit's matches, in order. Detections of rules that correlations count go to
 * the correlator, and are kept too unless those correlations keep them to themselves
 * (`generate: false`, the default).
 */
export function detectionsOf(unit: HuntUnit, found: UnitHunt, rules: readonly CompiledRule[], stats: HuntStats, correlator?: Correlator, window?: TimeWindow): Detection[] {
  if (unit.part === 0 && unit.kind !== 'unknown') stats.files++;
  if (!found.readable && unit.part === 0) stats.unreadable.push(unit.name ?? unit.file);
  stats.events += found.events;
  const out: Detection[] = [];
  // Units of one file come in order: a later part's lines count on from the earlier parts'.
  const file = unit.name ?? unit.file;
  const linesBefore = unit.part > 0 ? (stats.linesBefore?.get(file) ?? 0) : 0;
  if (found.lines !== undefined && unit.range) (stats.linesBefore ??= new Map()).set(file, linesBefore + found.lines);
  for (const m of found.matches) {
    const { rules: numbers, matched, iocs, event, line, ...place } = m;
    if (window && !within(window, place.timestamp)) continue;
    const at = line ? { line: linesBefore + line } : {};
    for (const hit of iocs ?? []) {
      stats.detections++;
      out.push({ rule: iocRule(hit), file, event, matched: iocMatched(hit), ...place, ...at });
    }
    for (const [i, n] of numbers.entries()) {
      const rule = rules[n]!;
      if (correlator && !countForCorrelations(correlator, rule, place.timestamp, event)) continue;
      stats.detections++;
      out.push({ rule, file, event, matched: matched[i], ...place, ...at });
    }
  }
  return out;
}

/**
 * Gives a rule's detection to the correlations that count it; whether the detection is also reported
 * on its own (not when every correlation referring to the rule hides it).
 */
export function countForCorrelations(correlator: Correlator, rule: CompiledRule, timestamp: string, event: unknown): boolean {
  if (!correlator.wants(rule.rule)) return true;
  correlator.add({ ruleId: rule.rule.id, ruleName: rule.rule.name, timeMs: Date.parse(timestamp), event: new EvtxEvent(event), payload: event });
  return correlator.reportsOwnDetections(rule.rule);
}

/** The rule an indicator's hits are reported under: one per feed and kind of indicator. */
const iocRules = new Map<string, CompiledRule>();
export function iocRule(hit: IocHit): CompiledRule {
  const key = `${hit.indicator.feed}\0${hit.indicator.type}`;
  let rule = iocRules.get(key);
  if (!rule) {
    rule = syntheticRule({ id: `spoor-ioc-${hit.indicator.type}`, title: `Indicator of compromise: ${hit.indicator.type} from ${hit.indicator.feed}`, level: 'high', tags: ['detection.ioc'], file: hit.indicator.feed });
    iocRules.set(key, rule);
  }
  return rule;
}

/** What a detection of an indicator shows: the indicator, its feed, and what it was found as. */
export function iocMatched(hit: IocHit): Record<string, unknown> {
  const i = hit.indicator;
  return { indicator: i.value, type: i.type, feed: i.feed, ...(i.id ? { indicator_id: i.id } : {}), ...(i.name ? { indicator_name: i.name } : {}), found: hit.found };
}

/** Event times a hunt reports (milliseconds since the epoch, either end open). */
export interface TimeWindow {
  from?: number;
  to?: number;
}

/** Whether an event time is in a window (a time that cannot be read is in an open one only). */
export function within(w: TimeWindow, timestamp: string): boolean {
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return w.from === undefined && w.to === undefined;
  return (w.from === undefined || t >= w.from) && (w.to === undefined || t <= w.to);
}

/** A correlation that held, as a detection: its rule, its last event, all its events and its group. */
export function correlationDetection(d: CorrelationDetection): Detection {
  const last = d.hits[d.hits.length - 1]!;
  const rule: CompiledRule = { rule: d.correlation.rule, techniques: techniquesOf(d.correlation.rule.tags), cves: cvesOf(d.correlation.rule), fields: [], alternatives: [], match: () => false };
  const flat = (p: unknown): unknown[] => (Array.isArray(p) ? p.flatMap(flat) : [p]);
  // Hits past the correlator's bound are counted without their events (payload undefined).
  const events = d.hits.flatMap((h) => flat(h.payload)).filter((e) => e !== undefined);
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
