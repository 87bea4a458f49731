import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { Session } from 'chdb';

/**
 * ClickHouse 26.7 embedded (chDB), behind the few calls of @clickhouse/client that Spoor's ingest
 * and hunt make (command, insert, query as JSONEachRow): the same code runs on a current engine,
 * in-process, as on an 18.16 server.
 */
export function chdbClient(): { client: ClickHouseClient; close: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-chdb-'));
  const session = new Session(dir);
  const rowsOf = (query: string) => session.query(query, 'JSONEachRow').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
  const client = {
    command: async ({ query }: { query: string }) => void session.query(query),
    insert: async ({ table, values }: { table: string; values: readonly Record<string, unknown>[] }) => void (await session.insert({ table, values })),
    query: async ({ query, clickhouse_settings }: { query: string; clickhouse_settings?: Record<string, unknown> }) => {
      // Settings as the session's (the parser reads max_query_size before a query's own SETTINGS clause).
      for (const [k, v] of Object.entries(clickhouse_settings ?? {})) session.query(`SET ${k} = ${Number(v)}`);
      const rows = rowsOf(query);
      return {
        json: async () => rows,
        stream: async function* () {
          yield rows.map((r) => ({ json: () => r }));
        },
      };
    },
  };
  return {
    client: client as unknown as ClickHouseClient,
    close: () => {
      session.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
