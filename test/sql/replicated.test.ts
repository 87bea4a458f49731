import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { type TestClickHouse, freePort, freePorts, queryServer, startClickHouse } from '../helpers/clickhouse.js';
import { DATA, SPOOR } from '../helpers/paths.js';
import { engineAndInProcess } from '../helpers/sql-parity.js';
import { type TestZooKeeper, startZooKeeper } from '../helpers/zookeeper.js';

const EVIDENCE = `${DATA}/sigma/regression_data`;

// A replicated pair: two ClickHouse 18.16 servers on loopback, the two replicas of the one shard of
// the cluster "logs", and Debian's ZooKeeper, which replication and ON CLUSTER need.
let zookeeper: TestZooKeeper | undefined;
const nodes: TestClickHouse[] = [];
before(async () => {
  zookeeper = await startZooKeeper(await freePort());
  const ports = [await freePorts(), await freePorts()];
  const shards = [ports.map((p) => p.tcp)];
  nodes.push(...(await Promise.all(ports.map((p, i) => startClickHouse(p, { name: 'logs', shards, zookeeper: { port: zookeeper!.port, shard: '01', replica: `r${i + 1}` } })))));
});
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await zookeeper?.stop();
});

const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });

const query = queryServer;

const count = async (node: TestClickHouse, table: string) => Number(await query(node, `SELECT count() FROM spoor.${table}`));

test('a replicated pair with ZooKeeper, its tables made once by spoor sql --cluster (ON CLUSTER): ingest through one replica is on both when it returns, a second ingest through the other inserts nothing, a cut-short file is cleaned up on both, and hunt --engine gives the in-process hunt\'s detections', { timeout: 1_200_000 }, async () => {
  const ddl = run('sql', '--cluster', 'logs');
  assert.equal(ddl.status, 0, ddl.stderr);
  // Run once, on one node: ON CLUSTER makes every table on both.
  for (const sql of ddl.stdout.split(';\n').map((s) => s.trim()).filter(Boolean)) await query(nodes[0]!, sql);
  for (const node of nodes) assert.match(await query(node, "SELECT engine FROM system.tables WHERE database = 'spoor' AND name = 'events_local'"), /^ReplicatedMergeTree$/);

  const url = (i: number) => `clickhouse://127.0.0.1:${nodes[i]!.httpPort}/spoor`;
  // The second replica copies nothing until told: ingest through the first must wait for it.
  await query(nodes[1]!, 'SYSTEM STOP FETCHES spoor.events_local');
  const ingesting = spawn(process.execPath, [SPOOR, 'ingest', EVIDENCE, '--to', url(0), '--no-progress'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  ingesting.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => ingesting.on('close', resolve));
  // (Or deleting an event stored twice, SigmaHQ's JSON of an EVTX sample: that too waits for the replica.)
  for (let i = 0; !/\d+ events inserted|\bmarked\b|deleting these rows/.test(stderr) && Number(await query(nodes[0]!, 'SELECT count() FROM spoor.spoor_ingested')) < 100; i++) {
    assert.ok(i < 1200, `ingest did not get going: ${stderr.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(ingesting.exitCode, null, `ingest returned while a replica lacked its rows: ${stderr.slice(-500)}`);
  assert.equal(await count(nodes[1]!, 'events_local'), 0);
  await query(nodes[1]!, 'SYSTEM START FETCHES spoor.events_local');
  assert.equal(await exited, 0, stderr);
  // Rows: the events read, less those also stored from another file (each sample's EVTX and JSON).
  const inserted = Number(/(\d+) events inserted/.exec(stderr)?.[1]) - Number(/(\d+) events were stored twice/.exec(stderr)?.[1] ?? 0);
  assert.ok(inserted > 150, stderr);
  // Each replica's own table holds every row as soon as ingest has returned.
  assert.deepEqual(await Promise.all(nodes.map((n) => count(n, 'events_local'))), [inserted, inserted]);

  const again = run('ingest', EVIDENCE, '--to', url(1), '--no-progress');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /0 events inserted/);
  assert.equal(await count(nodes[1]!, 'events'), inserted);

  // What a run killed mid-file leaves: some of a file's rows and no marker that it is done.
  const [sha, file] = (await query(nodes[0]!, "SELECT source_sha256, source_file FROM spoor.spoor_ingested WHERE endsWith(source_file, '.evtx') ORDER BY events DESC, source_file LIMIT 1")).split('\t');
  const rows = Number(await query(nodes[0]!, `SELECT count() FROM spoor.events WHERE source_sha256 = '${sha}'`));
  assert.ok(rows > 1, `${file}: ${rows} rows`);
  await query(nodes[0]!, `ALTER TABLE spoor.spoor_ingested ON CLUSTER logs DELETE WHERE source_sha256 = '${sha}'`);
  await query(nodes[0]!, `ALTER TABLE spoor.events_local ON CLUSTER logs DELETE WHERE source_sha256 = '${sha}' AND seq > 0`);
  // Waited for by the rows and the marker (not system.mutations: on 18.16 a replica that fetched parts already mutated, as the delete of twins leaves, shows that mutation undone).
  for (let i = 0; Number(await query(nodes[1]!, `SELECT count() FROM spoor.events_local WHERE source_sha256 = '${sha}'`)) !== 1 || Number(await query(nodes[1]!, `SELECT count() FROM spoor.spoor_ingested WHERE source_sha256 = '${sha}'`)) > 0; i++) {
    assert.ok(i < 300, 'the cut-short state did not reach the second replica');
    await new Promise((r) => setTimeout(r, 100));
  }
  const mend = run('ingest', EVIDENCE, '--to', url(1), '--no-progress');
  assert.equal(mend.status, 0, mend.stderr);
  assert.match(mend.stderr, /removing the rows of an ingest cut short/);
  assert.deepEqual(await Promise.all(nodes.map((n) => count(n, 'events_local'))), [inserted, inserted]);
  for (const node of nodes) assert.equal(Number(await query(node, `SELECT count() FROM spoor.events_local WHERE source_sha256 = '${sha}'`)), rows);

  // The in-process hunt reports an event under each file that holds it; the engine stores it once,
  // its EVTX row: the detections of the EVTX samples.
  const { remote, local, remoteErr } = engineAndInProcess(url(1), EVIDENCE);
  assert.ok(remote.length > 150, remoteErr);
  assert.deepEqual(remote, local.filter((k) => /\.evtx \d+$/.test(k)));
});
