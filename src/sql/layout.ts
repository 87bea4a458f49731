import type { ClickHouseClient } from '@clickhouse/client';
import { sqlString } from './clickhouse.js';
import { TABLE } from './schema.js';

/**
 * Where the events table's rows live: in `events` itself, or (a cluster) in a local table on every
 * shard, each shard's rows on one or more replicas, `events` being a Distributed table over them.
 */
export interface EventsLayout {
  /** The cluster `events` is distributed over, its database and local table; none for a table of one server. */
  cluster?: { name: string; database: string; local: string; replicas: { shard: number; address: string; user: string }[] };
}

const rows = async <T>(client: ClickHouseClient, query: string) => (await (await client.query({ query, format: 'JSONEachRow' })).json()) as T[];

/** A name in a Distributed engine's arguments, quoted or not. */
const unquoted = (s: string) => s.trim().replace(/^(['"`])(.*)\1$/, '$2');

/** A column only tables of this version's layout have (the event's JSON as a shape, its values in the arrays once). */
const CURRENT_COLUMN = 'shape';

/**
 * Refuses an events table made by an earlier Spoor (each value stored four times, the event as raw
 * JSON): its rows cannot take this version's inserts nor answer its queries, and the server's own
 * error would name a column rather than the cause.
 */
export async function checkEventsTable(client: ClickHouseClient): Promise<void> {
  const columns = (await rows<{ name: string }>(client, `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ${sqlString(TABLE)}`)).map((c) => c.name);
  if (columns.length && !columns.includes(CURRENT_COLUMN)) throw new Error(`table ${TABLE} was made by an earlier version of Spoor (no column ${CURRENT_COLUMN}); ingest into a new database, or drop ${TABLE} and spoor_ingested and ingest again`);
}

/** How the events table of the client's database is laid out (read from system.tables and system.clusters, which 18.16 has). */
export async function eventsLayout(client: ClickHouseClient): Promise<EventsLayout> {
  const [table] = await rows<{ engine: string; engine_full: string }>(client, `SELECT engine, engine_full FROM system.tables WHERE database = currentDatabase() AND name = ${sqlString(TABLE)}`);
  if (table?.engine !== 'Distributed') return {};
  const args = /^Distributed\((.*)\)/.exec(table.engine_full)?.[1]?.split(',').map(unquoted);
  if (!args || args.length < 3) throw new Error(`${TABLE}: a Distributed table whose engine Spoor cannot read (${table.engine_full})`);
  const [name, database, local] = args as [string, string, string];
  const replicas = (await rows<{ shard: number; address: string; port: number; user: string }>(client, `SELECT shard_num AS shard, host_address AS address, port, user FROM system.clusters WHERE cluster = ${sqlString(name)} ORDER BY shard_num, replica_num`)).map((r) => ({ shard: Number(r.shard), address: `${r.address.includes(':') ? `[${r.address}]` : r.address}:${r.port}`, user: r.user }));
  return { cluster: { name, database, local, replicas } };
}

/** A table of one replica, read through the server the client talks to. */
const onReplica = (replica: { address: string; user: string }, database: string, table: string) => `remote(${sqlString(replica.address)}, ${database}, ${table}, ${sqlString(replica.user)})`;

/** How long ingest waits for a delete to be done or for replicas to hold the rows inserted. */
const WAIT_MS = 10 * 60_000;

async function waitFor(what: string, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (let wait = 50; !(await done()); wait = Math.min(wait * 2, 1000)) {
    if (Date.now() > deadline) throw new Error(`${what} after ${WAIT_MS / 60_000} minutes`);
    await new Promise((r) => setTimeout(r, wait));
  }
}

/**
 * Deletes rows of the events and waits until they are gone. A delete is a mutation that runs in the
 * background; `mutations_sync` waits for it on current servers but is no setting on 18.16, so the
 * wait is done here, until no row the condition names is left (on a cluster, on any replica). Not
 * on system.mutations: a replica that fetched its parts already mutated keeps the mutation undone
 * there on 18.16 (seen with a replica that caught up late). A Distributed table takes no delete: it
 * goes to the shards' table `ON CLUSTER`, which needs the servers' ZooKeeper.
 */
export async function deleteEvents(client: ClickHouseClient, layout: EventsLayout, where: string, what = 'the rows of an ingest cut short'): Promise<void> {
  const c = layout.cluster;
  // Messages name the condition, cut short when it is long (a delete of stored twins may name hundreds of runs of rows).
  const shown = where.length <= 300 ? where : `${where.slice(0, 300)}…`;
  const local = c ? `${c.database}.${c.local}` : TABLE;
  try {
    await client.command({ query: `ALTER TABLE ${local}${c ? ` ON CLUSTER ${c.name}` : ''} DELETE WHERE ${where}` });
  } catch (e) {
    if (!c) throw e;
    throw new Error(`${local}: deleting ${what} needs ON CLUSTER (ZooKeeper), which the server refused (${(e as Error).message.split('\n')[0]}); run on every node: ALTER TABLE ${local} DELETE WHERE ${shown}`);
  }
  const tables = c ? c.replicas.map((r) => onReplica(r, c.database, c.local)) : [TABLE];
  await waitFor(`${local}: a delete of ${what} (${shown}) has not finished${c ? ' on every replica' : ''}; see system.mutations on the server${c ? 's' : ''}`, async () => {
    for (const table of tables) if (Number((await rows<{ n: string }>(client, `SELECT count() AS n FROM ${table} WHERE ${where}`))[0]?.n ?? 0) > 0) return false;
    return true;
  });
}

/**
 * Waits until every replica of each shard holds the rows its shard holds. An insert through a
 * Distributed table returns once one replica of each shard has its rows (insert_distributed_sync);
 * the others copy them from it in the background, and a hunt reading one of those would miss them.
 * Counts are compared (the most any replica of a shard holds), so rows deleted or inserted by others
 * meanwhile are waited for too, up to the time limit.
 */
export async function waitForReplicas(client: ClickHouseClient, layout: EventsLayout): Promise<void> {
  const c = layout.cluster;
  if (!c || c.replicas.length === new Set(c.replicas.map((r) => r.shard)).size) return;
  const counts = c.replicas.map((r, i) => `SELECT ${i} AS i, count() AS n FROM ${onReplica(r, c.database, c.local)}`).join(' UNION ALL ');
  await waitFor(`${c.database}.${c.local}: the replicas of a shard still hold different rows`, async () => {
    const held = new Map((await rows<{ i: number; n: string }>(client, counts)).map((r) => [Number(r.i), Number(r.n)]));
    const most = new Map<number, number>();
    c.replicas.forEach((r, i) => most.set(r.shard, Math.max(most.get(r.shard) ?? 0, held.get(i) ?? 0)));
    return c.replicas.every((r, i) => held.get(i) === most.get(r.shard));
  });
}
