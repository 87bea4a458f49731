import { createHash } from 'node:crypto';
import type { RawEvent } from '../evidence/event.js';
import { valueText } from '../sigma/modifiers.js';
import { toJson } from '../common/json.js';
import type { RowBinaryWriter } from './row-binary.js';

/**
 * The events table Spoor hunts in ClickHouse. Common columns (time, host, channel, provider, event id,
 * record id, source file) for filtering and sorting; every field of the event as parallel arrays of
 * names, values, lower-cased values and kinds, which the generated SQL addresses by name; and the
 * event itself as JSON, to give detections back in the in-process engine's shape.
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

/** The tables, in SQL both ClickHouse 18.16 and current releases accept. */
export function createTables(table = TABLE, engine = 'MergeTree()'): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (
  time DateTime,
  timestamp String,
  host String,
  channel String,
  provider String,
  event_id String,
  record_id String,
  source_file String,
  source_sha256 String,
  seq UInt64,
  names Array(String),
  vals Array(String),
  lvals Array(String),
  kinds Array(UInt8),
  ltext String,
  raw String
) ENGINE = ${engine} PARTITION BY toYYYYMM(time) ORDER BY (host, time, source_sha256, seq)`,
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
export function clusterTables(cluster: string, database: string, replicated: boolean): string[] {
  for (const [what, name] of [['cluster', cluster], ['database', database]]) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name!)) throw new Error(`${what} name "${name}" must be letters, digits and _`);
  const on = replicated ? ` ON CLUSTER ${cluster}` : '';
  const engine = (path: string) => (replicated ? `ReplicatedMergeTree('/clickhouse/tables/${path}', '{replica}')` : 'MergeTree()');
  const [events, ...small] = createTables(`${database}.${TABLE}_local`, engine(`{shard}/${database}/${TABLE}`));
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

// One event's items, reused from event to event.
const names: string[] = [];
const vals: string[] = [];
const lvals: string[] = [];
const kinds: number[] = [];
const scalars: string[] = [];
const collect = (name: string, t: string | undefined, kind: number) => {
  const lowered = t === undefined ? '' : t.toLowerCase();
  names.push(name);
  vals.push(t ?? '');
  lvals.push(lowered);
  kinds.push(kind);
  if (kind === KIND.scalar) scalars.push(lowered);
};

/**
 * An event as a row of the events table, in the table's column order: its fields as the engine sees
 * them (multi-valued fields one item each), their lower-cased texts, the scalar ones again as one
 * text (what a batch's literal prefilter searches) and the event as JSON.
 */
export function writeEventRow(w: RowBinaryWriter, view: RawEvent, timestamp: string, file: string, sha256: string, seq: number): void {
  const c = commonColumns(view, timestamp);
  names.length = vals.length = lvals.length = kinds.length = scalars.length = 0;
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
  w.stringArray(lvals);
  w.uint8Array(kinds);
  w.joined(scalars, '\n');
  w.string(toJson(view.toRaw()));
}

export const sha256Of = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
