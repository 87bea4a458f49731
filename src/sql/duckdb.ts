import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { type HuntUnit, type TimedEvent, type UnitHunt, unitEvents } from '../hunt/hunt.js';
import { toJson } from '../common/json.js';
import { KIND, commonColumns, forEachFieldItem } from './schema.js';

/**
 * Evidence as a DuckDB table, for ad-hoc SQL on one machine without a server: `events` with the
 * common columns of the ClickHouse table, `fields` (every field as a JSON object: `fields->>'Image'`)
 * and `raw` (the event as JSON).
 */
export const DUCKDB_TABLE = 'events';

export async function openDuckDb(file = ':memory:'): Promise<DuckDBConnection> {
  const db = await DuckDBInstance.create(file);
  return db.connect();
}

/** Reads the units with Spoor's readers into `events`; returns how many events. */
export async function loadEvidence(conn: DuckDBConnection, units: readonly HuntUnit[], say: (m: string) => void): Promise<number> {
  await conn.run('CREATE TEMP TABLE spoor_staging (timestamp VARCHAR, host VARCHAR, channel VARCHAR, provider VARCHAR, event_id VARCHAR, record_id VARCHAR, source_file VARCHAR, fields VARCHAR, raw VARCHAR)');
  const appender = await conn.createAppender('spoor_staging');
  let n = 0;
  for (const unit of units) {
    const label = unit.name ?? unit.file;
    const result: UnitHunt = { matches: [], events: 0, readable: true, diagnostics: [] };
    const add = (e: TimedEvent) => {
      n++;
      const c = commonColumns(e.view, e.timestamp);
      const fields: Record<string, string | null | (string | null)[]> = {};
      forEachFieldItem(e.view, (name, t, kind) => {
        const v = kind === KIND.scalar ? t! : null;
        const old = fields[name];
        fields[name] = old === undefined ? v : Array.isArray(old) ? [...old, v] : [old, v];
      });
      for (const v of [c.timestamp, c.host, c.channel, c.provider, c.event_id, c.record_id, label, JSON.stringify(fields), toJson(e.view.toRaw())]) appender.appendVarchar(v);
      appender.endRow();
    };
    const events = unitEvents(unit, result);
    if (Symbol.iterator in events) for (const e of events) add(e);
    else for await (const e of events) add(e);
    for (const d of result.diagnostics) say(d);
  }
  appender.closeSync();
  await conn.run(`CREATE OR REPLACE TABLE ${DUCKDB_TABLE} AS SELECT TRY_CAST(timestamp AS TIMESTAMPTZ) AS time, timestamp, host, channel, provider, event_id, record_id, source_file, fields::JSON AS fields, raw::JSON AS raw FROM spoor_staging`);
  await conn.run('DROP TABLE spoor_staging');
  return n;
}

/** A query's rows as JSON-safe objects, a chunk at a time. */
export async function* queryRows(conn: DuckDBConnection, sql: string): AsyncGenerator<Record<string, unknown>> {
  const result = await conn.stream(sql);
  for await (const rows of result.yieldRowObjectJson()) for (const r of rows) yield r;
}
