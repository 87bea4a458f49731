import { createHash } from 'node:crypto';
import type { RawEvent } from '../evidence/event.js';
import { valueText } from '../sigma/modifiers.js';
import { toJson } from '../common/json.js';
import type { RowBinaryWriter } from './row-binary.js';

/**
 * The events table Spoor hunts in ClickHouse. Common columns (time, host, channel, provider, event id,
 * record id, source file) for filtering and sorting; every field of the event as parallel arrays of
 * names, values and kinds, which the generated SQL addresses by name; the lower-cased values once as
 * one text, for prefiltering; and the event's JSON as its shape, the values in it referring to the
 * arrays, to give detections back in the in-process engine's shape. A value's text is stored once
 * in the arrays (and lower-cased in the prefilter's text): its lower case for a field test is
 * ClickHouse's `lowerUTF8`, which is the engine's for ASCII, and Spoor's own, kept in `lvals_unicode`,
 * for any other text.
 */
export const KIND = { scalar: 0, null: 1, other: 2 } as const;

/** Fields the log-source conditions test on columns of their own. */
export const COLUMN_OF_FIELD: Record<string, string> = { Channel: 'channel', EventID: 'event_id' };

export const TABLE = 'events';
export const INGESTED = 'spoor_ingested';
/** Which files (by content) a rule set has hunted, for hunt --since-last. */
export const HUNTED = 'spoor_hunted';
/** Its declaration (a database ingested before it existed gets it when first hunted --since-last). */
export const HUNTED_TABLE = `CREATE TABLE IF NOT EXISTS ${HUNTED} (rule_set String, source_sha256 String, hunted DateTime) ENGINE = MergeTree() ORDER BY (rule_set, source_sha256)`;

/**
 * An event's kind as the table's sort key holds it (its channel and event id, lower-cased as rules
 * name them): a hunt's queries test rows by these very expressions, so the server reads only the
 * parts of the table of the kinds a batch of rules can match rather than every row.
 */
export const KIND_KEY = { channel: 'lowerUTF8(channel)', eventId: 'lowerUTF8(event_id)' } as const;

/** Whether a ClickHouse version (`version()`, e.g. 18.16.1, 26.7.2.1) is at least major.minor. */
export function versionAtLeast(version: string, major: number, minor = 0): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** Columns whose text is most of a row: compressed harder where the server can (column codecs, which 18.16 lacks). */
const TEXT_COLUMNS = new Set(['timestamp', 'record_id', 'names', 'vals', 'lvals_unicode', 'ltext', 'shape']);
/**
 * The codec for them from ClickHouse 20.1 on: ZSTD at level 3 stores the attack samples' rows in 28%
 * less than the default LZ4 (chDB 26.7: 2.31 → 1.66 MB for 8,248 events; level 1 1.83, level 9 1.31
 * but several times slower to write).
 */
const TEXT_CODEC = 'CODEC(ZSTD(3))';

/**
 * The tables, in SQL the given server version accepts (by default what both ClickHouse 18.16 and
 * current releases accept).
 */
export function createTables(table = TABLE, engine = 'MergeTree()', version = '18.16'): string[] {
  const codecs = versionAtLeast(version, 20, 1);
  const column = (name: string, type: string) => `  ${name} ${type}${codecs && TEXT_COLUMNS.has(name) ? ` ${TEXT_CODEC}` : ''}`;
  const columns = [
    ['time', 'DateTime'], ['timestamp', 'String'], ['host', 'String'], ['channel', 'String'], ['provider', 'String'], ['event_id', 'String'], ['record_id', 'String'],
    ['source_file', 'String'], ['source_sha256', 'String'], ['seq', 'UInt64'], ['names', 'Array(String)'], ['vals', 'Array(String)'], ['lvals_unicode', 'Array(String)'],
    ['kinds', 'Array(UInt8)'], ['ltext', 'String'], ['shape', 'String'],
  ].map(([name, type]) => column(name!, type!));
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (\n${columns.join(',\n')}\n) ENGINE = ${engine} PARTITION BY toYYYYMM(time) ORDER BY (${KIND_KEY.channel}, ${KIND_KEY.eventId}, time, host, source_sha256, seq)`,
    `CREATE TABLE IF NOT EXISTS ${INGESTED} (source_sha256 String, source_file String, events UInt64, ingested DateTime) ENGINE = MergeTree() ORDER BY source_sha256`,
    HUNTED_TABLE,
  ];
}

/**
 * The tables for a cluster: on each shard the events as `events_local`, a `Distributed` table
 * `events` over them (rows to the shard of their host, so a host's events stay together), and
 * `spoor_ingested`; ingest and hunts go through `events` on any node. Replicated: with `ON CLUSTER`
 * and ReplicatedMergeTree (the servers need ZooKeeper), run once on any node; not replicated: one
 * copy of each shard, and the statements are run on every node.
 */
export function clusterTables(cluster: string, database: string, replicated: boolean, version?: string): string[] {
  for (const [what, name] of [['cluster', cluster], ['database', database]]) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name!)) throw new Error(`${what} name "${name}" must be letters, digits and _`);
  const on = replicated ? ` ON CLUSTER ${cluster}` : '';
  const engine = (path: string) => (replicated ? `ReplicatedMergeTree('/clickhouse/tables/${path}', '{replica}')` : 'MergeTree()');
  const [events, ...small] = createTables(`${database}.${TABLE}_local`, engine(`{shard}/${database}/${TABLE}`), version);
  return [
    `CREATE DATABASE IF NOT EXISTS ${database}${on}`,
    events!.replace(`${database}.${TABLE}_local (`, `${database}.${TABLE}_local${on} (`),
    `CREATE TABLE IF NOT EXISTS ${database}.${TABLE}${on} AS ${database}.${TABLE}_local ENGINE = Distributed(${cluster}, ${database}, ${TABLE}_local, cityHash64(host))`,
    // What was ingested and hunted: small tables, whole on each node (replicated, or the node's own).
    ...[INGESTED, HUNTED].map((name, i) => small[i]!.replace(`IF NOT EXISTS ${name} (`, `IF NOT EXISTS ${database}.${name}${on} (`).replace('ENGINE = MergeTree()', `ENGINE = ${engine(`${database}/${name}`)}`)),
  ];
}

/** ClickHouse's DateTime (UTC seconds, unsigned 32 bits) of an ISO time: the epoch for none, clamped to what the type holds. */
function epochSeconds(iso: string): number {
  const t = Math.floor(Date.parse(iso) / 1000);
  return Number.isNaN(t) ? 0 : Math.min(Math.max(t, 0), 0xffff_ffff);
}

/** The columns every table of events has: when, where and what kind of event. */
export interface CommonColumns {
  timestamp: string;
  host: string;
  channel: string;
  provider: string;
  event_id: string;
  record_id: string;
}

export function commonColumns(view: RawEvent, timestamp: string): CommonColumns {
  const text = (f: string) => valueText(view.get(f)) ?? '';
  const time = text('TimeCreated_SystemTime') || timestamp;
  return { timestamp: time, host: text('Computer'), channel: text('Channel'), provider: text('Provider_Name'), event_id: text('EventID'), record_id: text('EventRecordID') };
}

/** Each item of each field (a multi-valued field one item at a time), with its text and kind. */
export function forEachFieldItem(view: RawEvent, fn: (name: string, text: string | undefined, kind: number) => void): void {
  const each = (name: string, v: unknown) => {
    const t = valueText(v);
    fn(name, t, v === null ? KIND.null : t === undefined ? KIND.other : KIND.scalar);
  };
  for (const [name, v] of view.fields()) {
    if (Array.isArray(v) && v.length) for (const x of v) each(name, x);
    else each(name, v);
  }
}

/** Text lower-casing may treat otherwise than ASCII's A-Z to a-z (which is all `lowerUTF8` does the engine's way). */
// eslint-disable-next-line no-control-regex
const NOT_ASCII = /[^\x00-\x7f]/;

/** The SQL of an item's lower-cased text, from its value `v` and its lower case kept if not ASCII `u` (see lvals_unicode). */
export const loweredSql = (v: string, u: string) => `if(empty(${u}), lowerUTF8(${v}), ${u})`;

/**
 * Where a shape refers to a value: the marker's characters are control characters, which JSON text
 * never holds unescaped, so they cannot stand for themselves.
 */
const REF_OPEN = '\x01';
const REF_CLOSE = '\x02';
const REFERENCE = /\x01(\d+)\x02/g;
/** Values shorter than this stay in the shape (a reference takes 3 characters or more). */
const MIN_REFERRED = 8;

/**
 * An event's JSON with its values as references to the row's value array: the JSON text of each
 * scalar value, where it is in the JSON (looked for from where the last one was found, as fields
 * come in the JSON's order), becomes a marker naming its index. `eventJson` reverses it exactly: a
 * marker gives back the text it replaced, whatever part of the JSON that text was.
 */
export function shapeOf(json: string, values: readonly string[], kinds: readonly number[]): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (kinds[i] !== KIND.scalar || v.length < MIN_REFERRED) continue;
    let at: number;
    let length: number;
    if (ESCAPED_IN_JSON.test(v)) {
      const token = JSON.stringify(v);
      at = json.indexOf(token, from);
      length = token.length;
    } else {
      // Text JSON writes as it is: found between quotes, without making the quoted token (the same
      // first place as searching for it, one character on).
      at = json.indexOf(v, from + 1);
      while (at >= 0 && (json.charCodeAt(at - 1) !== 0x22 || json.charCodeAt(at + v.length) !== 0x22)) at = json.indexOf(v, at + 1);
      at--;
      length = v.length + 2;
    }
    if (at < 0) continue;
    out += json.slice(from, at) + REF_OPEN + i + REF_CLOSE;
    from = at + length;
  }
  return out + json.slice(from);
}

/** What JSON.stringify writes otherwise than as it is: quote, backslash, control characters and (lone) surrogates. */
// eslint-disable-next-line no-control-regex
const ESCAPED_IN_JSON = /["\\\x00-\x1f\ud800-\udfff]/;

/** The event's JSON from its shape and its row's values. */
export const eventJson = (shape: string, values: readonly string[]) => shape.replace(REFERENCE, (_, i: string) => JSON.stringify(values[Number(i)]));

// One event's items, reused from event to event.
const names: string[] = [];
const vals: string[] = [];
const unicode: string[] = [];
const kinds: number[] = [];
const scalars: string[] = [];
const collect = (name: string, t: string | undefined, kind: number) => {
  const text = t ?? '';
  const nonAscii = NOT_ASCII.test(text);
  names.push(name);
  vals.push(text);
  unicode.push(nonAscii ? text.toLowerCase() : '');
  kinds.push(kind);
  // The prefilter's text is lower-cased as it is written (ASCII) or here (the rest).
  if (kind === KIND.scalar) scalars.push(nonAscii ? text.toLowerCase() : text);
};

/**
 * An event as a row of the events table, in the table's column order: its fields as the engine sees
 * them (multi-valued fields one item each), the lower case of those not in ASCII, the scalar ones as
 * one lower-cased text (what a batch's literal prefilter searches) and the event's JSON shape.
 */
export function writeEventRow(w: RowBinaryWriter, view: RawEvent, timestamp: string, file: string, sha256: string, seq: number): void {
  const c = commonColumns(view, timestamp);
  names.length = vals.length = unicode.length = kinds.length = scalars.length = 0;
  forEachFieldItem(view, collect);
  w.uint32(epochSeconds(c.timestamp));
  w.string(c.timestamp);
  w.string(c.host);
  w.string(c.channel);
  w.string(c.provider);
  w.string(c.event_id);
  w.string(c.record_id);
  w.string(file);
  w.string(sha256);
  w.uint64(seq);
  w.stringArray(names);
  w.stringArray(vals);
  w.stringArray(unicode);
  w.uint8Array(kinds);
  w.joined(scalars, '\n', true);
  w.string(shapeOf(view.toJsonText?.() ?? toJson(view.toRaw()), vals, kinds));
}

export const sha256Of = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
