import type { Event } from '../evidence/event.js';
import { type Correlation, NUMBER, conditionHolds } from '../sigma/correlation.js';
import { lower } from '../sigma/fold.js';
import { valueText } from '../sigma/modifiers.js';
import type { SigmaRule } from '../sigma/rule.js';

/** A matched event a correlation counts: a detection of a rule it refers to, or of a correlation below it. */
export interface CorrelationHit {
  /** Id and name of the rule that matched (either may be referred to). */
  ruleId: string | undefined;
  ruleName: string | undefined;
  timeMs: number;
  event: Event;
  /** What a correlation detection carries: the raw events of the hits it counted. */
  payload: unknown;
}

/** A correlation that held: the rule, when (its last event), the group, and the hits it counted. */
export interface CorrelationDetection {
  correlation: Correlation;
  timeMs: number;
  group: Record<string, string>;
  /** The hits counted: their kept fields (`event`) and raw events (`payload`, unless past MAX_HELD_EVENTS). */
  hits: CorrelationHit[];
}

const refOf = (h: CorrelationHit, refs: readonly string[]) => refs.find((r) => r === h.ruleId || r === h.ruleName);

/** Raw events kept for correlation detections to list; past this, hits are counted but their events not kept. */
export const MAX_HELD_EVENTS = 100_000;

/** An event reduced to a few fields (those the correlations and the caller read). */
class KeptFields implements Event {
  constructor(private readonly fields: Map<string, unknown>) {}
  get(field: string): unknown {
    return this.fields.get(field);
  }
  values(): readonly unknown[] {
    return [...this.fields.values()];
  }
}

/**
 * Evaluates correlation rules over the detections of the rules they refer to. Hits may come out of
 * time order (several files, several threads), so they are held until the end, then taken in time
 * order; each group's window holds only the hits inside the timespan. A hit is held as the few
 * fields the correlations read (group-by and value fields, through their aliases) and, for the
 * first MAX_HELD_EVENTS hits, its raw event for the detections to list: a correlation over millions
 * of failed logons holds megabytes, not the events.
 */
export class Correlator {
  private readonly hits = new Map<Correlation, CorrelationHit[]>();
  private readonly order: Correlation[];
  private readonly kept: readonly string[];
  private held = 0;
  /** Hits whose raw events were not kept (past MAX_HELD_EVENTS): counted, not listed. */
  eventsNotKept = 0;

  /** `keep`: fields the caller reads from a detection's last hit, besides those correlations read. */
  constructor(readonly correlations: readonly Correlation[], keep: readonly string[] = []) {
    const fields = new Set(keep);
    for (const c of correlations) {
      for (const f of [...c.groupBy, ...(c.field ? [c.field] : [])]) {
        fields.add(f);
        for (const name of c.aliases.get(f)?.values() ?? []) fields.add(name);
      }
    }
    this.kept = [...fields];
    // Correlations that refer to correlations are evaluated after them (chaining).
    const byKey = new Map<string, Correlation>();
    for (const c of correlations) for (const k of [c.rule.id, c.rule.name]) if (k) byKey.set(k, c);
    const done = new Set<Correlation>();
    const order: Correlation[] = [];
    const visit = (c: Correlation, path: Set<Correlation>) => {
      if (done.has(c) || path.has(c)) return;
      path.add(c);
      for (const r of c.refs) {
        const child = byKey.get(r);
        if (child) visit(child, path);
      }
      done.add(c);
      order.push(c);
    };
    for (const c of correlations) visit(c, new Set());
    this.order = order;
    for (const c of correlations) this.hits.set(c, []);
  }

  /** Whether a rule's detections are reported on their own (not only through correlations that hide them). */
  reportsOwnDetections(rule: SigmaRule): boolean {
    const refs = this.correlations.filter((c) => c.refs.some((r) => r === rule.id || r === rule.name));
    return refs.length === 0 || refs.some((c) => c.generate);
  }

  /** Whether any correlation counts this rule's detections. */
  wants(rule: SigmaRule): boolean {
    return this.correlations.some((c) => c.refs.some((r) => r === rule.id || r === rule.name));
  }

  add(hit: CorrelationHit): void {
    const wanted = this.correlations.filter((c) => refOf(hit, c.refs));
    if (!wanted.length) return;
    const held = this.hold(hit);
    for (const c of wanted) this.hits.get(c)!.push(held);
  }

  private hold(hit: CorrelationHit): CorrelationHit {
    const fields = new Map<string, unknown>();
    for (const f of this.kept) {
      const v = hit.event.get(f);
      if (v !== undefined) fields.set(f, v);
    }
    const keep = this.held < MAX_HELD_EVENTS;
    if (keep) this.held++;
    else this.eventsNotKept++;
    return { ruleId: hit.ruleId, ruleName: hit.ruleName, timeMs: hit.timeMs, event: new KeptFields(fields), payload: keep ? hit.payload : undefined };
  }

  /** Evaluates every correlation once all hits are in; detections come out in time order. */
  finish(): CorrelationDetection[] {
    const out: CorrelationDetection[] = [];
    for (const c of this.order) {
      const found = evaluate(c, this.hits.get(c)!);
      out.push(...found);
      // A correlation's detections are hits for the correlations that refer to it.
      for (const d of found) {
        const last = d.hits[d.hits.length - 1]!;
        const hit: CorrelationHit = { ruleId: c.rule.id, ruleName: c.rule.name, timeMs: d.timeMs, event: last.event, payload: d.hits.map((h) => h.payload) };
        for (const parent of this.correlations) if (parent !== c && refOf(hit, parent.refs)) this.hits.get(parent)!.push(hit);
      }
    }
    return out.sort((a, b) => a.timeMs - b.timeMs);
  }
}

function fieldFor(c: Correlation, field: string, hit: CorrelationHit, ref: string): string {
  const alias = c.aliases.get(field);
  return alias?.get(ref) ?? (hit.ruleName ? alias?.get(hit.ruleName) : undefined) ?? field;
}

function valueOf(c: Correlation, field: string, hit: CorrelationHit): string {
  const ref = refOf(hit, c.refs) ?? '';
  const v = valueText(hit.event.get(fieldFor(c, field, hit, ref)));
  return v === undefined ? '' : lower(v);
}

function numberOf(c: Correlation, hit: CorrelationHit): number | undefined {
  const ref = refOf(hit, c.refs) ?? '';
  const t = valueText(hit.event.get(fieldFor(c, c.field!, hit, ref)));
  if (t === undefined || !NUMBER.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A group's hits inside the timespan, oldest first, with a count of each hit's key (the value of
 * value_count and value_percentile, the referred rule of temporal) kept as hits come and go: those
 * types are then decided without walking the window, which a window of 100,000 hits would make
 * quadratic.
 */
class Window {
  private hits: CorrelationHit[] = [];
  private keys: string[] = [];
  private head = 0;
  readonly counts = new Map<string, number>();

  get size(): number {
    return this.hits.length - this.head;
  }

  add(hit: CorrelationHit, key: string): void {
    this.hits.push(hit);
    this.keys.push(key);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Drops the hits older than `since`. */
  expire(since: number): void {
    while (this.head < this.hits.length && this.hits[this.head]!.timeMs < since) {
      const key = this.keys[this.head]!;
      const n = this.counts.get(key)! - 1;
      if (n) this.counts.set(key, n);
      else this.counts.delete(key);
      this.head++;
    }
    // Reclaim the dropped slots now and then, not on every expiry.
    if (this.head > 1024 && this.head * 2 > this.hits.length) {
      this.hits = this.hits.slice(this.head);
      this.keys = this.keys.slice(this.head);
      this.head = 0;
    }
  }

  live(): CorrelationHit[] {
    return this.hits.slice(this.head);
  }
}

/** What a hit counts as in a window: its value, its rule, or nothing the type needs. */
function keyOf(c: Correlation, hit: CorrelationHit): string {
  if (c.type === 'value_count' || c.type === 'value_percentile') return valueOf(c, c.field!, hit);
  if (c.type === 'temporal') return refOf(hit, c.refs) ?? '';
  return '';
}

function evaluate(c: Correlation, hits: CorrelationHit[]): CorrelationDetection[] {
  const sorted = [...hits].sort((a, b) => a.timeMs - b.timeMs);
  const windows = new Map<string, Window>();
  const out: CorrelationDetection[] = [];
  for (const hit of sorted) {
    const groupValues = c.groupBy.map((f) => valueOf(c, f, hit));
    const group = JSON.stringify(groupValues);
    let w = windows.get(group);
    if (!w) windows.set(group, (w = new Window()));
    const key = keyOf(c, hit);
    w.add(hit, key);
    // Expire what fell out of the timespan before this hit.
    w.expire(hit.timeMs - c.timespanMs);
    if (holds(c, w, key)) {
      out.push({ correlation: c, timeMs: hit.timeMs, group: Object.fromEntries(c.groupBy.map((f, i) => [f, groupValues[i]!])), hits: w.live() });
      windows.set(group, new Window());
    }
  }
  return out;
}

function holds(c: Correlation, w: Window, latestKey: string): boolean {
  switch (c.type) {
    case 'event_count':
      return conditionHolds(c.condition, w.size, 1);
    case 'value_count':
      return conditionHolds(c.condition, w.counts.size, 1);
    case 'temporal':
      return conditionHolds(c.condition, w.counts.size, c.refs.length);
    case 'temporal_ordered': {
      let k = 0;
      for (const h of w.live()) if (k < c.refs.length && refOf(h, c.refs) === c.refs[k]) k++;
      return conditionHolds(c.condition, k, c.refs.length);
    }
    case 'value_percentile':
      // The share (in %) of the latest value among the group's values in the timespan.
      return conditionHolds(c.condition, (100 * w.counts.get(latestKey)!) / w.size, 0);
    default: {
      const nums = w
        .live()
        .map((h) => numberOf(c, h))
        .filter((n): n is number => n !== undefined);
      if (nums.length === 0) return false;
      const sum = nums.reduce((a, b) => a + b, 0);
      if (c.type === 'value_sum') return conditionHolds(c.condition, sum, 0);
      if (c.type === 'value_avg') return conditionHolds(c.condition, sum / nums.length, 0);
      const s = [...nums].sort((a, b) => a - b);
      const mid = s.length >> 1;
      return conditionHolds(c.condition, s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, 0);
    }
  }
}
