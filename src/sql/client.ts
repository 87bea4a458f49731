import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';

/** A ClickHouse address as users give it: clickhouse://HOST:PORT/DATABASE (PORT: the HTTP port, 8123 by default). */
export interface ClickHouseTarget {
  url: string;
  database: string;
  username?: string;
  password?: string;
}

export class ClickHouseUrlError extends Error {}

export function parseClickHouseUrl(text: string): ClickHouseTarget {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ClickHouseUrlError(`${text}: expected clickhouse://HOST:PORT/DATABASE`);
  }
  if (u.protocol !== 'clickhouse:' && u.protocol !== 'http:' && u.protocol !== 'https:') throw new ClickHouseUrlError(`${text}: expected clickhouse://HOST:PORT/DATABASE`);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'spoor';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new ClickHouseUrlError(`${text}: database name "${database}" must be letters, digits and _`);
  const scheme = u.protocol === 'https:' ? 'https' : 'http';
  return { url: `${scheme}://${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || '8123'}`, database, ...(u.username ? { username: decodeURIComponent(u.username) } : {}), ...(u.password ? { password: decodeURIComponent(u.password) } : {}) };
}

/** A client on the target's database, created if need be; and the server's version. */
export async function connect(target: ClickHouseTarget): Promise<{ client: ClickHouseClient; version: string }> {
  // Spoor says what went wrong itself, naming the address; the client's own log would say it twice.
  const auth = { ...(target.username ? { username: target.username } : {}), ...(target.password ? { password: target.password } : {}), log: { level: ClickHouseLogLevel.OFF } };
  const admin = createClient({ url: target.url, ...auth });
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${target.database}` });
    const version = ((await (await admin.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json()) as { v: string }[])[0]!.v;
    return { client: createClient({ url: target.url, database: target.database, ...auth, request_timeout: 3_600_000, clickhouse_settings: { send_progress_in_http_headers: 1 } }), version };
  } finally {
    await admin.close();
  }
}
