import type { ClickHouseClient } from '@clickhouse/client';
import { EvtxEvent } from '../evidence/event.js';
import { type Detection, type TimeWindow, eventIocs, matchedValues, iocMatched, iocRule } from '../hunt/hunt.js';
import type { Indicator } from '../hunt/ioc/indicator.js';
import type { IocMatcher } from '../hunt/ioc/matcher.js';
import { AhoCorasick } from '../sigma/aho-corasick.js';
import { RuleError } from '../sigma/errors.js';
import type { Pipeline } from '../sigma/pipeline.js';
import type { CompiledRule } from '../sigma/ruleset.js';
import { ANY_EVENT_ID, holdsOneOf, NotConvertible, ruleKinds, ruleSql, sqlString } from './clickhouse.js';
import { INGESTED, KIND_KEY, TABLE, eventJson } from './schema.js';

export interface ConvertedRule {
  rule: CompiledRule;
  sql: string;
  /** Lower-cased channels its events come from (undefined: any): a batch's PREWHERE when some rule has no slots. */
  channels?: string[];
  /** Lower-cased (channel, event id) pairs its events have (undefined: not known): a batch's PREWHERE. */
  slots?: [string, string][];
  /** Lower-cased literals one of which every event it matches holds (the engine's prefilter; undefined: none). */
  literals?: string[];
}

/** What events a rule can match, as text that sorts rules of the same kinds together (a batch then reads only those kinds' rows). */
const kindsKey = (r: ConvertedRule) => (r.slots ? `0${r.slots.join('\n')}` : `1${r.channels?.join('\n') ?? '\uffff'}`);

/** Each rule as SQL, or the reason it cannot be. */
export function convertRules(rules: readonly CompiledRule[], pipeline: Pipeline): { converted: ConvertedRule[]; notConverted: { rule: CompiledRule; reason: string }[] } {
  const converted: ConvertedRule[] = [];
  const notConverted: { rule: CompiledRule; reason: string }[] = [];
  for (const rule of rules) {
    try {
      const literals = rule.alternatives.every((a) => a.literals) ? [...new Set(rule.alternatives.flatMap((a) => a.literals!))] : undefined;
      converted.push({ rule, sql: ruleSql(rule.rule, pipeline), ...ruleKinds(rule.rule, pipeline), ...(literals ? { literals } : {}) });
    } catch (e) {
      if (!(e instanceof NotConvertible || e instanceof RuleError)) throw e;
      notConverted.push({ rule, reason: e.message });
    }
  }
  return { converted, notConverted };
}

/** Hours a server's time zone can shift `time` by: ingest writes UTC text, which the server reads in its own zone. */
const ZONE_SLACK_S = 14 * 3600;
/** The seconds DateTime holds (1970 to 2105). */
const DATE_TIME_S = [0, 2 ** 32 - 1];

/**
 * A time window as a condition the table's sort key and partitions serve: rows whose `time` cannot
 * be in it are left out, with a margin for the server's time zone; rows whose time DateTime cannot
 * hold (before 1970, after 2105, not a time) are kept. Detections are still tested against the
 * window exactly (`within`), so this only narrows what is read.
 */
export function windowSql(window: TimeWindow | undefined): string | undefined {
  if (!window) return undefined;
  const unheld = `NOT (timestamp >= '1970' AND timestamp < '2106')`;
  const parts: string[] = [];
  const from = window.from === undefined ? undefined : Math.floor(window.from / 1000) - ZONE_SLACK_S;
  const to = window.to === undefined ? undefined : Math.ceil(window.to / 1000) + ZONE_SLACK_S;
  if (from !== undefined && from > DATE_TIME_S[0]!) parts.push(`(time >= toDateTime(${Math.min(from, DATE_TIME_S[1]!)}) OR ${unheld})`);
  if (to !== undefined && to < DATE_TIME_S[1]!) parts.push(`(time <= toDateTime(${Math.max(to, DATE_TIME_S[0]!)}) OR ${unheld})`);
  return parts.length ? parts.join(' AND ') : undefined;
}

/** Rows of the files a table lists by content hash (GLOBAL: on a cluster the list is read here and sent to the shards). */
export const onlyFilesSql = (files: string) => `source_sha256 GLOBAL IN (SELECT source_sha256 FROM ${files})`;

/** Rows of some (channel, event id) pairs, or of a whole channel where the pair's event id is ANY_EVENT_ID. */
function slotsSql(slots: readonly [string, string][]): string {
  const pairs = [...new Set(slots.filter(([, id]) => id !== ANY_EVENT_ID).map(([c, id]) => `(${sqlString(c)}, ${sqlString(id)})`))];
  const whole = [...new Set(slots.filter(([, id]) => id === ANY_EVENT_ID).map(([c]) => sqlString(c)))];
  const parts = [...(pairs.length ? [`(${KIND_KEY.channel}, ${KIND_KEY.eventId}) IN (${pairs.join(', ')})`] : []), ...(whole.length ? [`${KIND_KEY.channel} IN (${whole.join(', ')})`] : [])];
  return parts.length > 1 ? `(${parts.join(' OR ')})` : parts[0] ?? 'false';
}

/** The query that finds the events a batch of rules matches, with the numbers (in the batch) of the rules that matched each. */
export function batchQuery(batch: readonly ConvertedRule[], table = TABLE, window?: TimeWindow, files?: string): string {
  const hits = batch.map((r, i) => `if(${r.sql}, ${i}, -1)`).join(',\n  ');
  // Only the rows of the batch's event kinds (or channels), in the window, holding one of the literals
  // some rule of the batch needs are tested; all in PREWHERE, which ClickHouse evaluates reading only
  // its columns, and reads the others (the event's arrays and text, most of a row) for the rows left.
  const slots = batch.every((r) => r.slots) ? slotsSql(batch.flatMap((r) => r.slots!)) : undefined;
  const channels = batch.every((r) => r.channels) ? [...new Set(batch.flatMap((r) => r.channels!))] : undefined;
  const literals = batch.every((r) => r.literals) ? [...new Set(batch.flatMap((r) => r.literals!))] : undefined;
  const conditions = [
    slots ?? (channels ? `${KIND_KEY.channel} IN (${channels.map(sqlString).join(', ')})` : undefined),
    windowSql(window),
    files ? onlyFilesSql(files) : undefined,
    literals ? holdsOneOf('ltext', literals) : undefined,
  ].filter((c) => c !== undefined);
  const prewhere = conditions.length ? `\nPREWHERE ${conditions.join(' AND ')}` : '';
  const columns = 'time, seq, source_file, source_sha256, timestamp, host, channel, event_id, record_id, names, vals, lvals_unicode, kinds, shape';
  return `SELECT source_file, source_sha256, timestamp, host, channel, event_id, record_id, shape, vals, arrayFilter(x -> x >= 0, [\n  ${hits}\n]) AS hits\nFROM (SELECT ${columns} FROM ${table}${prewhere})\nWHERE notEmpty(hits)\nORDER BY time, source_file, seq`;
}

interface EventRow {
  source_file: string;
  source_sha256: string;
  timestamp: string;
  host: string;
  channel: string;
  event_id: string;
  record_id: string;
  shape: string;
  vals: string[];
}
interface HitRow extends EventRow {
  hits: number[];
}

/** Where a detection's event is, as the in-process engine says it. */
const placeOf = (r: EventRow, file = r.source_file) => ({ timestamp: r.timestamp, file, recordId: r.record_id, computer: r.host, channel: r.channel, eventId: r.event_id });

/**
 * The other paths of each content ingested under more than one (a file's rows are stored once, under
 * the path it was first ingested from): a row's detections are reported under each, as a hunt of
 * the files themselves reports them.
 */
async function copiesOf(client: ClickHouseClient): Promise<(r: EventRow) => string[]> {
  const paths = new Map<string, Set<string>>();
  for (const r of (await (await client.query({ query: `SELECT DISTINCT source_sha256 AS s, source_file AS f FROM ${INGESTED}`, format: 'JSONEachRow' })).json()) as { s: string; f: string }[]) {
    const known = paths.get(r.s) ?? new Set<string>();
    paths.set(r.s, known);
    known.add(r.f);
  }
  return (r) => {
    const all = paths.get(r.source_sha256);
    return all && all.size > 1 ? [...all].filter((f) => f !== r.source_file) : [];
  };
}

/**
 * Runs the rules in the database, a batch per query (one scan of the table serves many rules), and
 * gives back detections as the in-process engine makes them.
 */
export async function* huntInClickHouse(client: ClickHouseClient, rules: readonly ConvertedRule[], onBatch?: (done: number) => void, window?: TimeWindow, files?: string): AsyncGenerator<Detection> {
  // A rule whose event kinds (or channels) hold no row cannot match: it is not sent (ClickHouse 18.16
  // takes up to seconds to analyse one batch, rows or none).
  const kinds = (await (await client.query({ query: `SELECT DISTINCT ${KIND_KEY.channel} AS c, ${KIND_KEY.eventId} AS e FROM ${TABLE}`, format: 'JSONEachRow' })).json()) as { c: string; e: string }[];
  const channels = new Set(kinds.map((k) => k.c));
  const slots = new Set(kinds.map((k) => `${k.c}\n${k.e}`));
  let done = rules.length;
  const wanted = rules.filter((r) => (r.slots ? r.slots.some(([c, id]) => (id === ANY_EVENT_ID ? channels.has(c) : slots.has(`${c}\n${id}`))) : !r.channels || r.channels.some((c) => channels.has(c))));
  done -= wanted.length;
  if (done) onBatch?.(done);
  const copies = await copiesOf(client);
  for (const batch of batchesOf(await bySelectivity(client, wanted))) {
    const rs = await client.query({ query: batchQuery(batch, TABLE, window, files), format: 'JSONEachRow', clickhouse_settings: QUERY_SETTINGS });
    for await (const rows of rs.stream()) {
      for (const row of rows as { json: () => HitRow }[]) {
        const r = row.json();
        const event = JSON.parse(eventJson(r.shape, r.vals)) as unknown;
        const view = new EvtxEvent(event);
        for (const file of [r.source_file, ...copies(r)]) {
          for (const i of r.hits) {
            const rule = batch[i]!.rule;
            yield { rule, ...placeOf(r, file), event, matched: matchedValues(view, rule) };
          }
        }
      }
    }
    done += batch.length;
    onBatch?.(done);
  }
}

/** Rows of the table sampled to tell how many rows each rule's literals let through, and the characters read of each (a hostile row may be megabytes). */
const SAMPLE_ROWS = 2000;
const SAMPLE_CHARS = 65536;

/**
 * The rules in the order to batch them: by event kinds, then by the share of a sample of the table's
 * rows holding one of their literals. ClickHouse 18.16 tests every rule of a batch on each row the
 * batch's prefilter keeps, so one rule whose literals are everywhere (`c:\\windows\\`) in a batch of
 * rare ones makes the whole batch read and test every row; batched with rules like it, it costs
 * that batch alone. Only the order changes: each rule is still tested on every row it could match.
 */
export async function bySelectivity(client: ClickHouseClient, rules: readonly ConvertedRule[], table = TABLE): Promise<ConvertedRule[]> {
  const [count] = (await (await client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })).json()) as { n: string }[];
  const every = Math.max(1, Math.floor(Number(count?.n ?? 0) / SAMPLE_ROWS));
  const sample = ((await (await client.query({ query: `SELECT substring(ltext, 1, ${SAMPLE_CHARS}) AS ltext FROM ${table} PREWHERE cityHash64(source_sha256, seq) % ${every} = 0 LIMIT ${SAMPLE_ROWS}`, format: 'JSONEachRow' })).json()) as { ltext: string }[]).map((r) => r.ltext);
  const literals = [...new Set(rules.flatMap((r) => r.literals ?? []))];
  const idOf = new Map(literals.map((l, i) => [l, i]));
  const rulesOf: number[][] = literals.map(() => []);
  rules.forEach((r, i) => r.literals?.forEach((l) => rulesOf[idOf.get(l)!]!.push(i)));
  const hits = new Uint32Array(rules.length);
  const seen = new Int32Array(rules.length).fill(-1);
  const automaton = new AhoCorasick(literals);
  sample.forEach((text, row) =>
    automaton.search(text, (id) => {
      for (const i of rulesOf[id]!) {
        if (seen[i] === row) continue;
        seen[i] = row;
        hits[i]!++;
      }
    }),
  );
  // A rule without literals is tested on every row of its kinds: after those whose literals every row holds.
  const share = (i: number) => (rules[i]!.literals ? hits[i]! / Math.max(1, sample.length) : 2);
  return rules
    .map((r, i) => ({ r, kinds: kindsKey(r), share: share(i) }))
    .sort((a, b) => (a.kinds < b.kinds ? -1 : a.kinds > b.kinds ? 1 : a.share - b.share))
    .map((x) => x.r);
}

/**
 * SQL per query: batches are cut to this size (a rule with hundreds of values is a batch of its own).
 * ClickHouse 18.16 analyses a query in time that grows faster than its size, and tests every rule of
 * a batch on each row its prefilter lets through (it evaluates every branch): measured over 50,000
 * events and every SigmaHQ rule, batches of 8, 16, 32 and 64 rules took 31, 22, 74 and 137 s.
 */
const MAX_BATCH_SQL = 32 * 1024;
const MAX_BATCH_RULES = 16;
/** Settings that let a batch's long query through (ClickHouse's defaults: 256 KiB of SQL, 50,000 AST elements). */
const QUERY_SETTINGS = { max_query_size: String(64 * MAX_BATCH_SQL), max_ast_elements: '2000000', max_expanded_ast_elements: '2000000' } as Record<string, string>;

/**
 * What a batch's PREWHERE can keep of the table for a rule: its event kinds, and whether it has
 * literals. Rules of different kinds share no batch: one rule of any kind (or without literals)
 * would take the prefilter from every rule beside it, and with the table sorted by kind a batch of
 * one kind reads only that kind's rows.
 */
const prefilterKey = (r: ConvertedRule) => `${kindsKey(r)}\n${r.literals ? 'literals' : ''}`;

/** The rules, in the order given, cut into batches of one prefilter, up to MAX_BATCH_RULES rules and MAX_BATCH_SQL of SQL each. */
export function* batchesOf(rules: readonly ConvertedRule[]): Generator<ConvertedRule[]> {
  let batch: ConvertedRule[] = [];
  let size = 0;
  let key = '';
  for (const r of rules) {
    const rKey = prefilterKey(r);
    if (batch.length && (size + r.sql.length > MAX_BATCH_SQL || batch.length >= MAX_BATCH_RULES || rKey !== key)) {
      yield batch;
      batch = [];
      size = 0;
    }
    key = rKey;
    batch.push(r);
    size += r.sql.length;
  }
  if (batch.length) yield batch;
}

/** Indicators' literals per query: each query is one scan, its literals one regular expression of alternatives (18.16 has no multiSearchAny). */
const IOC_LITERALS_PER_QUERY = 1000;

/** A query for the events that may hold some of the indicators, and which indicators' hits it reports. */
export interface IocQuery {
  sql: string;
  /** Whether a hit on this indicator is this query's to report (a row fetched by two queries is not reported twice). */
  reports: (indicator: Indicator) => boolean;
}

/**
 * The queries that fetch the events which may hold an indicator: rows holding one of the matcher's
 * literals (lower-cased, as `ltext` is), a query per slice of them; every row when the indicators
 * have no sound literals (IPv6 addresses, ranges wider than /8). Each indicator belongs to the
 * slice of its literal: a row holding it holds that literal, so that query fetches it.
 */
export function iocQueries(matcher: IocMatcher, table = TABLE, window?: TimeWindow, files?: string): IocQuery[] {
  const scope = [windowSql(window), files ? onlyFilesSql(files) : undefined].filter((c) => c !== undefined).join(' AND ');
  const select = `SELECT source_file, source_sha256, seq, timestamp, host, channel, event_id, record_id, shape, vals FROM ${table}${scope ? ` WHERE ${scope}` : ''}`;
  const also = scope ? 'AND' : 'WHERE';
  const literalOf = matcher.literalOfEach();
  if (!literalOf) return [{ sql: `${select} ORDER BY time, source_file, seq`, reports: () => true }];
  const sliceOf = new Map<string, number>();
  for (const literal of literalOf.values()) {
    const l = literal.toLowerCase();
    if (!sliceOf.has(l)) sliceOf.set(l, Math.floor(sliceOf.size / IOC_LITERALS_PER_QUERY));
  }
  const distinct = [...sliceOf.keys()];
  const out: IocQuery[] = [];
  for (let i = 0; i < distinct.length; i += IOC_LITERALS_PER_QUERY) {
    const slice = i / IOC_LITERALS_PER_QUERY;
    out.push({
      sql: `${select} ${also} ${holdsOneOf('ltext', distinct.slice(i, i + IOC_LITERALS_PER_QUERY))} ORDER BY time, source_file, seq`,
      reports: (indicator) => sliceOf.get(literalOf.get(indicator)?.toLowerCase() ?? '') === slice,
    });
  }
  return out;
}

/**
 * Indicators of compromise over the events in the database: the database keeps the rows holding an
 * indicator's text, and Spoor's own matcher decides on each (tokens, parent domains, CIDR ranges,
 * path ends), so hits are the in-process hunt's. A row fetched by several queries gives each hit in
 * one of them, that of the indicator's literal.
 */
export async function* iocHitsInClickHouse(client: ClickHouseClient, matcher: IocMatcher, window?: TimeWindow, files?: string): AsyncGenerator<Detection> {
  const copies = await copiesOf(client);
  for (const { sql, reports } of iocQueries(matcher, TABLE, window, files)) {
    const rs = await client.query({ query: sql, format: 'JSONEachRow', clickhouse_settings: QUERY_SETTINGS });
    for await (const rows of rs.stream()) {
      for (const row of rows as { json: () => EventRow & { seq: string } }[]) {
        const r = row.json();
        const event = JSON.parse(eventJson(r.shape, r.vals)) as unknown;
        const hits = eventIocs(new EvtxEvent(event), matcher).filter((hit) => reports(hit.indicator));
        for (const file of hits.length ? [r.source_file, ...copies(r)] : []) for (const hit of hits) yield { rule: iocRule(hit), ...placeOf(r, file), event, matched: iocMatched(hit) };
      }
    }
  }
}
