import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { Session } from 'chdb';

/**
 * ClickHouse 26.7 embedded (chDB), behind the few calls of @clickhouse/client that Spoor's ingest
 * and hunt make (command, insert, query as JSONEachRow, exec of an INSERT with its rows as a stream):
 * the same code runs on a current engine, in-process, as on an 18.16 server.
 */
export function chdbClient(): { client: ClickHouseClient; close: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-chdb-'));
  const session = new Session(dir);
  const rowsOf = (query: string) => session.query(query, 'JSONEachRow').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
  const client = {
    command: async ({ query }: { query: string }) => void session.query(query),
    // chDB takes no request body: the rows go through a file, read by the insert's own format.
    exec: async ({ query, values }: { query: string; values: Readable }) => {
      const [, table, format] = /^INSERT INTO (\S+) FORMAT (\w+)$/.exec(query) ?? [];
      if (!table) throw new Error(`chdbClient: no exec of ${query}`);
      const body: Buffer[] = [];
      for await (const c of values) body.push(c as Buffer);
      const file = join(dir, 'insert.bin');
      writeFileSync(file, Buffer.concat(body));
      const structure = rowsOf(`DESCRIBE TABLE ${table}`).map((c) => `${(c as { name: string }).name} ${(c as { type: string }).type}`).join(', ');
      session.query(`INSERT INTO ${table} SELECT * FROM file('${file}', '${format}', '${structure}')`);
      return { stream: (async function* () {})() };
    },
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
