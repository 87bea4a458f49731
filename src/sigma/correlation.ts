import { RuleError } from './errors.js';
import type { SigmaRule } from './rule.js';

/** A correlation rule, checked and ready to evaluate. */
export interface Correlation {
  rule: SigmaRule;
  type: CorrelationType;
  /** Rules referred to, by id or name, in the rule's order. */
  refs: string[];
  groupBy: string[];
  timespanMs: number;
  /** All must hold (a range is two of them). */
  condition: [Op, number][];
  /** The field value_count, value_sum … look at. */
  field: string | undefined;
  /** alias → (rule id or name → field in that rule's events). */
  aliases: Map<string, Map<string, string>>;
  /** Whether the rules referred to also report their own detections. */
  generate: boolean;
}

export const TYPES = ['event_count', 'value_count', 'temporal', 'temporal_ordered', 'value_sum', 'value_avg', 'value_percentile', 'value_median'] as const;
export type CorrelationType = (typeof TYPES)[number];
type Op = 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'neq';
const OPS: Record<Op, (a: number, b: number) => boolean> = {
  gt: (a, b) => a > b, gte: (a, b) => a >= b, lt: (a, b) => a < b, lte: (a, b) => a <= b, eq: (a, b) => a === b, neq: (a, b) => a !== b,
};

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)]);

export function parseTimespan(text: unknown): number {
  const m = /^(\d+)([smhdw])$/.exec(String(text ?? ''));
  if (!m) throw new RuleError(`timespan ${JSON.stringify(text)} is not a number and one of s, m, h, d, w`, ['timespan']);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Checks a correlation rule's `correlation` section. */
export function parseCorrelation(rule: SigmaRule): Correlation {
  const c = rule.correlation;
  if (!c) throw new RuleError('missing "correlation"');
  const type = c.type as CorrelationType;
  if (!TYPES.includes(type)) throw new RuleError(`unknown correlation type ${JSON.stringify(c.type)}`, ['type']);
  const refs = list(c.rules);
  if (refs.length === 0) throw new RuleError('a correlation needs "rules"', ['rules']);
  const timespanMs = parseTimespan(c.timespan ?? c.timeframe);
  const condition: [Op, number][] = [];
  let field: string | undefined;
  if (isObj(c.condition)) {
    for (const [k, v] of Object.entries(c.condition)) {
      if (k === 'field') field = Array.isArray(v) ? String(v[0]) : String(v);
      else if (k in OPS) {
        const n = Number(v);
        if (!Number.isFinite(n)) throw new RuleError(`condition ${k} needs a number`, ['condition']);
        condition.push([k as Op, n]);
      } else throw new RuleError(`unknown condition operator "${k}"`, ['condition']);
    }
  }
  const needsCondition = type !== 'temporal' && type !== 'temporal_ordered';
  if (needsCondition && condition.length === 0) throw new RuleError(`${type} needs a condition`, ['condition']);
  if (type.startsWith('value_') && !field) throw new RuleError(`${type} needs a condition field`, ['condition']);
  const aliases = new Map<string, Map<string, string>>();
  if (isObj(c.aliases)) {
    for (const [alias, byRule] of Object.entries(c.aliases)) {
      if (!isObj(byRule)) throw new RuleError(`alias "${alias}" must map rule names to fields`, ['aliases']);
      aliases.set(alias, new Map(Object.entries(byRule).map(([r, f]) => [r, String(f)])));
    }
  }
  return { rule, type, refs, groupBy: list(c['group-by']), timespanMs, condition, field, aliases, generate: c.generate === true || rule.correlation?.generate === true };
}

/**
 * A number as value_sum, value_avg and value_median read a field: decimal, optionally signed and with
 * an exponent (not JavaScript's Number(), which takes '' and ' ' as 0 and reads hex): the same
 * test the SQL backend makes with RE2.
 */
export const NUMBER = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

export function conditionHolds(condition: readonly [Op, number][], value: number, defaultMin: number): boolean {
  if (condition.length === 0) return value >= defaultMin;
  return condition.every(([op, n]) => OPS[op](value, n));
}
