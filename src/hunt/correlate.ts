import type { Event } from '../evidence/event.js';
import { type Correlation, NUMBER, conditionHolds } from '../sigma/correlation.js';
import { lower, valueText } from '../sigma/modifiers.js';
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
  hits: CorrelationHit[];
}

const refOf = (h: CorrelationHit, refs: readonly string[]) => refs.find((r) => r === h.ruleId || r === h.ruleName);

/**
 * Evaluates correlation rules over the detections of the rules they refer to. Hits are taken in time
 * order; each group keeps only the hits inside the timespan (older ones expire), so state is bounded
 * by the timespan, not the input. When a correlation holds, its group starts afresh.
 */
export class Correlator {
  private readonly hits = new Map<Correlation, CorrelationHit[]>();
  private readonly order: Correlation[];

  constructor(readonly correlations: readonly Correlation[]) {
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
    for (const c of this.correlations) if (refOf(hit, c.refs)) this.hits.get(c)!.push(hit);
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

function evaluate(c: Correlation, hits: CorrelationHit[]): CorrelationDetection[] {
  const sorted = [...hits].sort((a, b) => a.timeMs - b.timeMs);
  const windows = new Map<string, CorrelationHit[]>();
  const out: CorrelationDetection[] = [];
  for (const hit of sorted) {
    const groupValues = c.groupBy.map((f) => valueOf(c, f, hit));
    const key = JSON.stringify(groupValues);
    let w = windows.get(key);
    if (!w) windows.set(key, (w = []));
    w.push(hit);
    // Expire what fell out of the timespan before this hit.
    let drop = 0;
    while (drop < w.length && w[drop]!.timeMs < hit.timeMs - c.timespanMs) drop++;
    if (drop) w.splice(0, drop);
    if (holds(c, w, hit)) {
      out.push({ correlation: c, timeMs: hit.timeMs, group: Object.fromEntries(c.groupBy.map((f, i) => [f, groupValues[i]!])), hits: [...w] });
      windows.set(key, []);
    }
  }
  return out;
}

function holds(c: Correlation, w: CorrelationHit[], latest: CorrelationHit): boolean {
  switch (c.type) {
    case 'event_count':
      return conditionHolds(c.condition, w.length, 1);
    case 'value_count':
      return conditionHolds(c.condition, new Set(w.map((h) => valueOf(c, c.field!, h))).size, 1);
    case 'temporal':
      return conditionHolds(c.condition, new Set(w.map((h) => refOf(h, c.refs))).size, c.refs.length);
    case 'temporal_ordered': {
      let k = 0;
      for (const h of w) if (k < c.refs.length && refOf(h, c.refs) === c.refs[k]) k++;
      return conditionHolds(c.condition, k, c.refs.length);
    }
    case 'value_percentile': {
      // The share (in %) of the latest value among the group's values in the timespan.
      const mine = valueOf(c, c.field!, latest);
      const share = (100 * w.filter((h) => valueOf(c, c.field!, h) === mine).length) / w.length;
      return conditionHolds(c.condition, share, 0);
    }
    default: {
      const nums = w.map((h) => numberOf(c, h)).filter((n): n is number => n !== undefined);
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
