import { type Correlation, NUMBER } from '../sigma/correlation.js';
import { NotConvertible, itemAt, sqlString } from './clickhouse.js';
import type { ConvertedRule } from './hunt.js';
import { TABLE } from './schema.js';

/**
 * A Sigma correlation as one ClickHouse query: the events of the rules it refers to, grouped by its
 * group-by fields (`GROUP BY`), and in each group every timespan-long window that ends at one of the
 * group's events tested against the condition (sliding windows, not the clock-aligned ones the Sigma
 * specification warns give false negatives). A row comes out for each group whose condition holds in
 * some window, dated by the event that first completes it, with the events of that window.
 *
 * The in-process engine's meaning, on which the query is tested: the same hits (an event once per
 * rule it matches), the same group values (the field, or its alias for that rule, lower-cased; '' if
 * absent), the same windows and conditions. One difference, said in the README: after a window
 * holds the engine starts that group afresh and can report it again later; a query reports each
 * group once, at its first window.
 */

/** The base rules a correlation refers to, by the names it uses for them: each one's SQL condition. */
export type ReferredRules = ReadonlyMap<string, string>;

const COMPARE = { gt: '>', gte: '>=', lt: '<', lte: '<=', eq: '=', neq: '!=' } as const;
const NUMERIC = new Set<Correlation['type']>(['value_sum', 'value_avg', 'value_median']);

const identifier = (name: string) => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

/** A field's value as the correlator reads it: one scalar's text ('' when absent, null, several or not scalar). */
const fieldText = (field: string, cased: boolean) => `if(countEqual(names, ${sqlString(field)}) = 1, ${itemAt(field, cased)}, '')`;

/** The field (or its alias for the rule a hit matched) each hit is read at. */
function perRef(c: Correlation, field: string, cased: boolean): string {
  const alias = c.aliases.get(field);
  if (!alias) return fieldText(field, cased);
  const arms = c.refs.flatMap((r) => (alias.has(r) ? [`c_hit.1 = ${sqlString(r)}`, fieldText(alias.get(r)!, cased)] : []));
  return arms.length ? `multiIf(${arms.join(', ')}, ${fieldText(field, cased)})` : fieldText(field, cased);
}

function holdsSql(c: Correlation, value: string, defaultMin: number): string {
  if (!c.condition.length) return `${value} >= ${defaultMin}`;
  return c.condition.map(([op, n]) => `${value} ${COMPARE[op]} ${n}`).join(' AND ');
}

/** Whether the window ending at hit i (time ti) holds; over the group's arrays c_ts, c_rs, c_vs, c_ns, c_idx. */
function windowSql(c: Correlation): string {
  const inWindow = `j <= i AND t >= ti - ${c.timespanMs}`;
  const within = (array: string) => `arrayFilter((x, t, j) -> ${inWindow}, ${array}, c_ts, c_idx)`;
  switch (c.type) {
    case 'event_count':
      return holdsSql(c, `arrayCount((t, j) -> ${inWindow}, c_ts, c_idx)`, 1);
    case 'value_count':
      return holdsSql(c, `arrayUniq(${within('c_vs')})`, 1);
    case 'temporal':
      return holdsSql(c, `arrayUniq(${within('c_rs')})`, c.refs.length);
    case 'temporal_ordered': {
      // The engine's greedy scan: the first hit of the first rule in the window, then the first of the
      // second after it, and so on; how many rules were found in order.
      const positions: string[] = [];
      for (const [k, ref] of c.refs.entries()) {
        const after = k === 0 ? '' : ` AND j > ${positions[k - 1]}`;
        positions.push(`arrayFirstIndex((r, t, j) -> r = ${sqlString(ref)} AND ${inWindow}${after}, c_rs, c_ts, c_idx)`);
      }
      const found = positions.reduceRight((inner, p, k) => `if(${p} = 0, ${k}, ${inner})`, String(c.refs.length));
      return holdsSql(c, found, c.refs.length);
    }
    case 'value_percentile':
      return holdsSql(c, `100 * arrayCount((v, t, j) -> v = c_vs[i] AND ${inWindow}, c_vs, c_ts, c_idx) / arrayCount((t, j) -> ${inWindow}, c_ts, c_idx)`, 0);
    default: {
      const nums = `arrayFilter((x, ok, t, j) -> ok AND ${inWindow}, c_ns, c_oks, c_ts, c_idx)`;
      const sorted = `arraySort(${nums})`;
      const value =
        c.type === 'value_sum'
          ? `arraySum(${nums})`
          : c.type === 'value_avg'
            ? `arraySum(${nums}) / length(${nums})`
            : `if(length(${nums}) % 2 = 1, ${sorted}[intDiv(length(${nums}), 2) + 1], (${sorted}[intDiv(length(${nums}), 2)] + ${sorted}[intDiv(length(${nums}), 2) + 1]) / 2)`;
      return `notEmpty(${nums}) AND ${holdsSql(c, value, 0)}`;
    }
  }
}

/**
 * The query for a correlation over rules that are themselves SQL conditions. Throws NotConvertible
 * for a correlation that refers to another correlation (a chain): `spoor hunt --engine` evaluates
 * chains on the detections the database returns.
 */
export function correlationSql(c: Correlation, referred: ReferredRules, table = TABLE): string {
  const missing = c.refs.filter((r) => !referred.has(r));
  if (missing.length) throw new NotConvertible(`refers to ${missing.join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not a convertible base rule (chains of correlations are evaluated by spoor hunt --engine, not as one query)`);
  // Milliseconds as the engine's Date.parse gives them: the DateTime column's seconds and the text's fraction.
  const ms = `toUInt64(time) * 1000 + toUInt64OrZero(substring(concat(extract(timestamp, '\\\\.(\\\\d+)'), '000'), 1, 3))`;
  const refArms = c.refs.map((r, k) => `(if(${referred.get(r)}, ${sqlString(r)}, ''), ${k})`).join(',\n      ');
  const groups = c.groupBy.map((f, k) => `${perRef(c, f, false)} AS c_g${k}`);
  // Numbers are read from the value as written, compared texts lower-cased (as the correlator does).
  const value = c.field ? perRef(c, c.field, NUMERIC.has(c.type)) : "''";
  const numeric = `match(c_v, ${sqlString(NUMBER.source)})`;
  const number = `toFloat64OrZero(replaceRegexpOne(replaceRegexpAll(c_v, '^\\\\s+|\\\\s+$', ''), '^\\\\+', ''))`;
  const groupCols = c.groupBy.map((_, k) => `c_g${k}`);
  const keys = groupCols.length ? groupCols.join(', ') : '';
  const out = c.groupBy.map((f, k) => `c_g${k} AS ${identifier(f)}`);
  return `SELECT ${[...out, 'c_ts[c_fired] AS time_ms', `arrayFilter((h, t, j) -> j <= c_fired AND t >= c_ts[c_fired] - ${c.timespanMs}, arrayMap(h -> (h.4, h.6), c_hs), c_ts, c_idx) AS events`].join(', ')}
FROM (
  SELECT ${keys ? `${keys}, ` : ''}c_hs,
    arrayMap(h -> h.1, c_hs) AS c_ts, arrayMap(h -> h.2, c_hs) AS c_rs, arrayMap(h -> h.3, c_hs) AS c_vs,
    arrayMap(h -> h.7, c_hs) AS c_ns, arrayMap(h -> h.8, c_hs) AS c_oks, arrayEnumerate(c_hs) AS c_idx,
    arrayFirstIndex(x -> x, arrayMap((ti, i) -> ${windowSql(c)}, c_ts, c_idx)) AS c_fired
  FROM (
    SELECT ${keys ? `${keys}, ` : ''}arraySort(h -> (h.1, h.4, h.5, h.9), groupArray((c_t, c_ref, c_v, source_file, seq, record_id, c_n, c_ok, c_k))) AS c_hs
    FROM (
      SELECT ${ms} AS c_t, c_hit.1 AS c_ref, c_hit.2 AS c_k, ${[...groups, `${value} AS c_v`].join(', ')}, ${numeric} AS c_ok, ${number} AS c_n, source_file, seq, record_id
      FROM ${table}
      ARRAY JOIN arrayFilter(x -> x.1 != '', [
      ${refArms}]) AS c_hit
      WHERE ${c.refs.map((r) => `(${referred.get(r)})`).join(' OR ')}
    )${keys ? `\n    GROUP BY ${keys}` : ''}
  )
)
WHERE c_fired > 0
ORDER BY time_ms`;
}

export interface ConvertedCorrelation {
  correlation: Correlation;
  sql: string;
}

/** Each correlation as SQL over the converted base rules, or the reason it cannot be. */
export function convertCorrelations(correlations: readonly Correlation[], rules: readonly ConvertedRule[]): {
  converted: ConvertedCorrelation[];
  notConverted: { correlation: Correlation; reason: string }[];
} {
  const referred = new Map<string, string>();
  for (const r of rules) for (const key of [r.rule.rule.id, r.rule.rule.name]) if (key) referred.set(key, r.sql);
  const converted: ConvertedCorrelation[] = [];
  const notConverted: { correlation: Correlation; reason: string }[] = [];
  for (const correlation of correlations) {
    try {
      converted.push({ correlation, sql: correlationSql(correlation, referred) });
    } catch (e) {
      if (!(e instanceof NotConvertible)) throw e;
      notConverted.push({ correlation, reason: e.message });
    }
  }
  return { converted, notConverted };
}
