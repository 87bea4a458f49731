import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type TestClickHouse, freePorts, queryServer, startClickHouse } from '../helpers/clickhouse.js';
import { DATA, ROOT, SPOOR } from '../helpers/paths.js';
import { engineAndInProcess } from '../helpers/sql-parity.js';

const EVIDENCE = `${DATA}/sigma/regression_data`;

// Two ClickHouse 18.16 servers on loopback, each one shard of the cluster "logs".
const nodes: TestClickHouse[] = [];
before(async () => {
  const ports = [await freePorts(), await freePorts()];
  nodes.push(...(await Promise.all(ports.map((p) => startClickHouse(p, { name: 'logs', shards: ports.map((q) => [q.tcp]) })))));
});
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });

const query = queryServer;

test('a two-shard cluster made from spoor sql --cluster: ingest through the Distributed table is visible when it returns, rows spread over both shards, and hunt --engine gives the in-process hunt\'s detections on SigmaHQ\'s regression data', { timeout: 1_200_000 }, async () => {
  const ddl = run('sql', '--cluster', 'logs', '--no-replicated');
  assert.equal(ddl.status, 0, ddl.stderr);
  const statements = ddl.stdout.split(';\n').map((s) => s.trim()).filter(Boolean);
  assert.equal(statements.length, 5);
  for (const node of nodes) for (const sql of statements) await query(node, sql);

  const url = `clickhouse://127.0.0.1:${nodes[0]!.httpPort}/spoor`;
  const ing = run('ingest', EVIDENCE, '--to', url, '--no-progress');
  assert.equal(ing.status, 0, ing.stderr);
  const inserted = Number(/(\d+) events inserted/.exec(ing.stderr)?.[1]);
  assert.ok(inserted > 150, ing.stderr);
  // Read at once, from the other node: every row is there, and each shard holds some.
  assert.equal(Number(await query(nodes[1]!, 'SELECT count() FROM spoor.events')), inserted);
  const local = await Promise.all(nodes.map(async (n) => Number(await query(n, 'SELECT count() FROM spoor.events_local'))));
  assert.ok(local.every((n) => n > 0), `rows per shard: ${local}`);
  assert.equal(local[0]! + local[1]!, inserted);
  // A second ingest through either node's Distributed table finds the files ingested (spoor_ingested on the node ingested through).
  const again = run('ingest', EVIDENCE, '--to', url, '--no-progress');
  assert.equal(again.status, 0, again.stderr);
  assert.equal(Number(await query(nodes[1]!, 'SELECT count() FROM spoor.events')), inserted);

  const { remote, local: inProcess, remoteErr } = engineAndInProcess(url, EVIDENCE);
  assert.ok(remote.length > 150, remoteErr);
  assert.deepEqual(remote, inProcess);
  // --since-last through the cluster: the files to hunt are listed on the node hunted through and sent to the shards.
  const first = engineAndInProcess(url, EVIDENCE, ['--since-last']);
  assert.deepEqual(first.remote, inProcess, first.remoteErr);
  const none = engineAndInProcess(url, EVIDENCE, ['--since-last']);
  assert.deepEqual(none.remote, []);
  assert.match(none.remoteErr, /nothing ingested since the last hunt/);

  // A file cut short on shards without ZooKeeper: its rows cannot be deleted ON CLUSTER; ingest says
  // what to run on every node rather than hunting on with the rows twice.
  const sha = await query(nodes[0]!, 'SELECT source_sha256 FROM spoor.spoor_ingested ORDER BY events DESC LIMIT 1');
  await query(nodes[0]!, `ALTER TABLE spoor.spoor_ingested DELETE WHERE source_sha256 = '${sha}'`);
  while (Number(await query(nodes[0]!, 'SELECT count() FROM system.mutations WHERE is_done = 0')) > 0) await new Promise((r) => setTimeout(r, 100));
  const cut = run('ingest', EVIDENCE, '--to', url, '--no-progress');
  assert.equal(cut.status, 1, cut.stderr);
  assert.match(cut.stderr, new RegExp(`run on every node: ALTER TABLE spoor\\.events_local DELETE WHERE source_sha256 = '${sha}'`));
  assert.doesNotMatch(cut.stderr, /\n\s+at /);
});

test('the README\'s cluster tables are what spoor sql --cluster logs prints', () => {
  const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('### A cluster'));
  const block = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
  const printed = run('sql', '--cluster', 'logs');
  assert.equal(printed.status, 0, printed.stderr);
  assert.equal(block, printed.stdout);
});
