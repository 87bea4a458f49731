import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import type { RawEvent } from '../../src/evidence/event.js';
import { connect, parseClickHouseUrl } from '../../src/sql/client.js';
import { RowBinaryInsert } from '../../src/sql/insert.js';
import { RowBinaryWriter } from '../../src/sql/row-binary.js';
import { createTables, writeEventRow } from '../../src/sql/schema.js';

/**
 * A private ClickHouse server for tests (Debian's clickhouse-server, which .ci/run installs): its own
 * data folder, loopback only, free ports; stopped when the tests end.
 */
export interface TestClickHouse {
  url: string;
  httpPort: number;
  stop: () => Promise<void>;
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

/** Ports a test server listens on, chosen before it starts (a cluster's servers must know each other's); `interserver`: where replicas fetch parts. */
export interface ClickHousePorts {
  http: number;
  tcp: number;
  interserver: number;
}

export const freePorts = async (): Promise<ClickHousePorts> => ({ http: await freePort(), tcp: await freePort(), interserver: await freePort() });

/**
 * A cluster a test server is part of: its name, its shards (each the TCP ports of its replicas on
 * loopback) and, for replicated tables and `ON CLUSTER`, the ZooKeeper port and this server's
 * `{shard}` and `{replica}` macros.
 */
export interface TestCluster {
  name: string;
  shards: number[][];
  zookeeper?: { port: number; shard: string; replica: string };
}

/** Starts a server; given `cluster`, its configuration names that cluster (and ZooKeeper, if it has one). */
export async function startClickHouse(ports?: ClickHousePorts, cluster?: TestCluster): Promise<TestClickHouse> {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-clickhouse-'));
  for (const d of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, d));
  const { http, tcp, interserver } = ports ?? (await freePorts());
  let config = readFileSync('/etc/clickhouse-server/config.xml', 'utf8')
    .replace(/<log>[^<]*<\/log>/, `<log>${dir}/log/server.log</log>`)
    .replace(/<errorlog>[^<]*<\/errorlog>/, `<errorlog>${dir}/log/server.err.log</errorlog>`)
    .replace(/<http_port>\d+<\/http_port>/, `<http_port>${http}</http_port>`)
    .replace(/<tcp_port>\d+<\/tcp_port>/, `<tcp_port>${tcp}</tcp_port>`)
    .replace(/<https_port>\d+<\/https_port>/, '')
    .replace(/<tcp_port_secure>\d+<\/tcp_port_secure>/, '')
    .replace(/<interserver_http_port>\d+<\/interserver_http_port>/, `<interserver_http_port>${interserver}</interserver_http_port><interserver_http_host>127.0.0.1</interserver_http_host>`)
    .replace(/<listen_host>::1<\/listen_host>/, '')
    .replace(/<path>\/var\/lib\/clickhouse\/<\/path>/, `<path>${dir}/data/</path>`)
    .replace(/<tmp_path>[^<]*<\/tmp_path>/, `<tmp_path>${dir}/tmp/</tmp_path>`)
    .replace(/<user_files_path>[^<]*<\/user_files_path>/, `<user_files_path>${dir}/user_files/</user_files_path>`)
    .replace(/<format_schema_path>[^<]*<\/format_schema_path>/, `<format_schema_path>${dir}/format_schemas/</format_schema_path>`);
  config = config.replace('<users_config>users.xml</users_config>', `<users_config>${dir}/users.xml</users_config>`);
  if (cluster) {
    // Replicated tables copy rows between a shard's replicas themselves: the Distributed table writes to one.
    const internal = cluster.zookeeper ? '<internal_replication>true</internal_replication>' : '';
    const shards = cluster.shards.map((replicas) => `<shard>${internal}${replicas.map((port) => `<replica><host>127.0.0.1</host><port>${port}</port></replica>`).join('')}</shard>`).join('');
    config = config.replace(/<remote_servers[^>]*>[\s\S]*?<\/remote_servers>/, `<remote_servers><${cluster.name}>${shards}</${cluster.name}></remote_servers>`);
    const zk = cluster.zookeeper;
    if (zk) {
      config = config
        .replace('<zookeeper incl="zookeeper-servers" optional="true" />', `<zookeeper><node><host>127.0.0.1</host><port>${zk.port}</port></node></zookeeper>`)
        .replace('<macros incl="macros" optional="true" />', `<macros><shard>${zk.shard}</shard><replica>${zk.replica}</replica></macros>`);
    }
  }
  writeFileSync(join(dir, 'config.xml'), config);
  writeFileSync(join(dir, 'users.xml'), readFileSync('/etc/clickhouse-server/users.xml', 'utf8'));
  const child: ChildProcess = spawn('clickhouse-server', [`--config-file=${dir}/config.xml`], { stdio: 'ignore', cwd: dir });
  const url = `http://127.0.0.1:${http}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${url}/?query=SELECT%201`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (i > 300 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`clickhouse-server did not start: ${spawnSync('tail', ['-20', `${dir}/log/server.err.log`], { encoding: 'utf8' }).stdout}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    httpPort: http,
    stop: () => stopServer(child, dir),
  };
}

/** Stops a test server (SIGTERM, SIGKILL after 10 s) and removes its folder. */
export async function stopServer(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A statement run on a test server over HTTP, its answer trimmed. A request on a kept-alive socket
 * that the server closed meanwhile (it closes idle ones after 3 s) is sent again on a new one.
 */
export async function queryServer(server: TestClickHouse, sql: string): Promise<string> {
  const send = () => fetch(`${server.url}/`, { method: 'POST', body: sql });
  const r = await send().catch(send);
  const text = await r.text();
  if (!r.ok) throw new Error(`${sql.slice(0, 80)}: ${text}`);
  return text.trim();
}

/**
 * A private server for one test file and a client on one of its databases: started before the
 * file's tests, stopped after them. Read `server` and `client` inside tests (they are set by then).
 */
export function clickHouseForTests(database: string): { server: TestClickHouse; client: ClickHouseClient } {
  const state = {} as { server: TestClickHouse; client: ClickHouseClient };
  before(async () => {
    state.server = await startClickHouse();
    state.client = (await connect(parseClickHouseUrl(`clickhouse://127.0.0.1:${state.server.httpPort}/${database}`))).client;
  });
  after(async () => {
    await state.client?.close();
    await state.server?.stop();
  });
  return state;
}

/** Events as rows of `table` (created if need be), each with the time, file and number given. */
export async function insertEvents(client: ClickHouseClient, table: string, events: readonly { view: RawEvent; timestamp: string; file: string; seq: number }[]): Promise<void> {
  for (const sql of createTables(table)) await client.command({ query: sql });
  const rows = new RowBinaryWriter();
  for (const e of events) writeEventRow(rows, e.view, e.timestamp, e.file, e.file, e.seq);
  const insert = new RowBinaryInsert(client, table);
  await insert.write(rows.take(true));
  await insert.end();
}
