import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { type TimeWindow, planHuntUnits, within } from '../../src/hunt/hunt.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { batchQuery, convertRules, huntInClickHouse, windowSql } from '../../src/sql/hunt.js';
import { ingest } from '../../src/sql/ingest.js';
import { fieldSql, holdsOneOf } from '../../src/sql/clickhouse.js';
import { compileFieldTest } from '../../src/sigma/modifiers.js';
import { clickHouseForTests, insertEvents } from '../helpers/clickhouse.js';
import { writeLargeCase } from '../helpers/large-case.js';
import { createTables } from '../../src/sql/schema.js';
import { CLAIMS, CLAIMS_TABLE, Claims } from '../../src/sql/claims.js';
import { RowBinaryInsert } from '../../src/sql/insert.js';
import { RowBinaryWriter } from '../../src/sql/row-binary.js';
import { PARITY_RULE_DIRS, detectionKey, engineAndInProcess, distinctRegressionSamples, inProcessKeys, keyDifferences, regressionSamples } from '../helpers/sql-parity.js';
import { DATA, ROOT, SPOOR, listFiles } from '../helpers/paths.js';

const pipeline = loadPipeline(DEFAULT_PIPELINE);
const db = clickHouseForTests('parity');

const samples = regressionSamples;

test('parity: every SigmaHQ regression sample, ingested into ClickHouse and hunted there with SigmaHQ\'s rules, gives the in-process engine\'s detections (rule id, file, record id)', { timeout: 900_000 }, async () => {
  const files = distinctRegressionSamples();
  assert.ok(files.length >= 150);
  const ruleSet = loadRuleSet(PARITY_RULE_DIRS, pipeline);
  const { converted, notConverted } = convertRules(ruleSet.rules, pipeline);
  const units = planHuntUnits(files.map((path) => ({ path, size: statSync(path).size })));
  let t = Date.now();
  const report = await ingest(db.client, units, () => undefined);
  const ingestMs = Date.now() - t;
  t = Date.now();
  assert.equal(report.files, files.length);
  // The in-process engine, on the same events, with the same rules.
  const local = inProcessKeys(files, converted.map((c) => c.rule));
  const localMs = Date.now() - t;
  t = Date.now();
  const remote = new Set<string>();
  for await (const d of huntInClickHouse(db.client, converted)) remote.add(detectionKey(d));
  const remoteMs = Date.now() - t;
  console.log(`parity timings: ingest ${ingestMs} ms, in-process ${localMs} ms, ClickHouse ${remoteMs} ms`);
  console.log(`parity: ${converted.length} rules converted, ${notConverted.length} not (${[...new Set(notConverted.map((n) => n.reason.replace(/^[^:]*: /, '').slice(0, 60)))].slice(0, 8).join('; ')}); ${local.size} detections in-process, ${remote.size} in ClickHouse`);
  assert.ok(local.size > 150, `only ${local.size} detections in-process`);
  assert.deepEqual(keyDifferences(local, remote), { missing: [], extra: [] });
  // Every rule a regression sample names was converted.
  const named = listFiles(`${DATA}/sigma/regression_data`, 'info.yml').flatMap((f) => (parse(readFileSync(f, 'utf8')) as { rule_metadata: { id: string }[] }).rule_metadata.map((m) => m.id));
  const reasons = named.map((id) => notConverted.find((n) => n.rule.rule.id === id)).filter((n) => n).map((n) => `${n!.rule.rule.title}: ${n!.reason}`);
  assert.deepEqual(reasons, []);
});

test('idempotent ingest: the same folder twice leaves the row count unchanged', async () => {
  const url = `clickhouse://127.0.0.1:${db.server.httpPort}/twice`;
  const files = [...new Set(samples())].slice(0, 10);
  const ingestOnce = () => spawnSync(process.execPath, [SPOOR, 'ingest', ...files, '--to', url], { encoding: 'utf8' });
  const count = async () => Number(((await (await db.client.query({ query: 'SELECT count() AS n FROM twice.events', format: 'JSONEachRow' })).json()) as { n: string }[])[0]!.n);
  const first = ingestOnce();
  assert.equal(first.status, 0, first.stderr);
  const rows = await count();
  assert.ok(rows > 0);
  const second = ingestOnce();
  assert.equal(second.status, 0, second.stderr);
  assert.equal(await count(), rows);
  assert.match(second.stderr, /skipped/);
});

test('ingest on threads (a large file split between two, small files beside it) stores the rows one thread stores, and marks each file once all of it is in', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-threads-'));
  try {
    // 40 MB of EVTX: two inserts' worth for two threads; and regression samples of a few events each.
    writeLargeCase(dir, 55_000);
    const files = [join(dir, 'evidence', 'host', 'events.evtx'), ...[...new Set(samples())].slice(0, 20)];
    const ingestInto = (database: string, threads: number) => spawnSync(process.execPath, [SPOOR, 'ingest', ...files, '--to', `clickhouse://127.0.0.1:${db.server.httpPort}/${database}`, '--threads', String(threads), '--no-progress'], { encoding: 'utf8' });
    const table = async (database: string) => {
      const q = async (query: string) => (await (await db.client.query({ query, format: 'JSONEachRow' })).json()) as Record<string, string>[];
      return {
        // Every column but seq (which numbers a unit's events from its part), in file and record order.
        rows: await q(`SELECT source_file, count() AS n, sum(cityHash64(time, timestamp, host, channel, provider, event_id, record_id, source_sha256, names, vals, lvals_unicode, kinds, ltext, shape)) AS h, uniqExact(seq) AS seqs FROM ${database}.events GROUP BY source_file ORDER BY source_file`),
        order: await q(`SELECT source_file, groupArray(record_id) AS ids FROM (SELECT source_file, record_id FROM ${database}.events ORDER BY source_file, seq) GROUP BY source_file ORDER BY source_file`),
        markers: await q(`SELECT source_file, events FROM ${database}.spoor_ingested ORDER BY source_file`),
      };
    };
    const one = ingestInto('one_thread', 1);
    assert.equal(one.status, 0, one.stderr);
    const two = ingestInto('two_threads', 2);
    assert.equal(two.status, 0, two.stderr);
    const [a, b] = [await table('one_thread'), await table('two_threads')];
    assert.equal(a.markers.length, files.length);
    assert.deepEqual(b, a);
    // Each file's count is its marker's, and its rows are numbered apart.
    for (const r of b.rows) assert.equal(r.seqs, r.n);
    assert.deepEqual(b.markers.map((m) => [m.source_file, String(m.events)]), b.rows.map((r) => [r.source_file, String(r.n)]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an ingest cut short is cleaned up by the next one (on 18.16 too, which has no mutations_sync), to the same rows as one ingest', async () => {
  // Attack samples of tens of events each: the rows left behind are part of one file.
  const files = listFiles(`${DATA}/evtx/attack-samples/Execution`, '.evtx').slice(0, 3);
  const ingestInto = (database: string) => spawnSync(process.execPath, [SPOOR, 'ingest', ...files, '--to', `clickhouse://127.0.0.1:${db.server.httpPort}/${database}`, '--no-progress'], { encoding: 'utf8' });
  const rows = async (database: string) => ((await (await db.client.query({ query: `SELECT source_sha256, seq FROM ${database}.events ORDER BY source_sha256, seq`, format: 'JSONEachRow' })).json()) as unknown[]);
  const whole = ingestInto('whole');
  assert.equal(whole.status, 0, whole.stderr);
  const want = await rows('whole');
  assert.ok(want.length > 7, `${want.length} rows`);
  // What a run killed mid-file leaves: some of a file's rows, and no marker that the file is done.
  await db.client.command({ query: 'CREATE DATABASE IF NOT EXISTS cut' });
  for (const sql of createTables()) await db.client.command({ query: sql.replace(/TABLE IF NOT EXISTS (\w+)/, 'TABLE IF NOT EXISTS cut.$1') });
  await db.client.command({ query: 'INSERT INTO cut.events SELECT * FROM whole.events ORDER BY source_sha256, seq LIMIT 7' });
  const again = ingestInto('cut');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /removing the rows of an ingest cut short/);
  assert.deepEqual(await rows('cut'), want);
});

test('ingests at once insert each file once: each leaves to the other what it claimed first, and rows another live run is inserting are not taken for an ingest cut short', { timeout: 300_000 }, async () => {
  const files = [...new Set(samples())].slice(0, 40);
  const ingestInto = (database: string) =>
    new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [SPOOR, 'ingest', ...files, '--to', `clickhouse://127.0.0.1:${db.server.httpPort}/${database}`, '--no-progress']);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stderr }));
    });
  const q = async (query: string) => (await (await db.client.query({ query, format: 'JSONEachRow' })).json()) as Record<string, string>[];
  const contents = async (database: string) => q(`SELECT source_sha256 AS s, count() AS n, uniqExact(seq) AS seqs FROM ${database}.events GROUP BY s ORDER BY s`);
  const alone = await ingestInto('alone');
  assert.equal(alone.status, 0, alone.stderr);
  const want = await contents('alone');
  assert.ok(want.length > 30);
  for (const c of want) assert.equal(c.n, c.seqs);
  // Three runs started together: the rows of one, each file marked once.
  const runs = await Promise.all([ingestInto('together'), ingestInto('together'), ingestInto('together')]);
  for (const r of runs) assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(await contents('together'), want);
  const markers = (database: string) => q(`SELECT source_sha256 AS s, source_file AS f, events AS n FROM ${database}.spoor_ingested ORDER BY s, f`);
  assert.deepEqual(await markers('together'), await markers('alone'));
  // A second run started once the first has claimed: the first may have inserted, marked and ended
  // by the time the second reads the claims, and the second must then find the files marked.
  await db.client.command({ query: 'CREATE DATABASE IF NOT EXISTS staggered' });
  const first = ingestInto('staggered');
  for (let i = 0; ; i++) {
    assert.ok(i < 600, 'the first run never claimed');
    const claimed = await q(`SELECT count() AS n FROM system.tables WHERE database = 'staggered' AND name = '${CLAIMS}'`);
    if (claimed[0]!.n !== '0' && (await q(`SELECT count() AS n FROM staggered.${CLAIMS}`))[0]!.n !== '0') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const second = ingestInto('staggered');
  for (const r of await Promise.all([first, second])) assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(await contents('staggered'), want);
  assert.deepEqual(await markers('staggered'), await markers('alone'));

  // Some rows of one file and no marker, as a run still inserting it leaves them, with that run's live claim.
  const sha = want[0]!.s!;
  const partial = async (database: string, claimedAgo: number) => {
    await db.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
    for (const sql of [...createTables(), CLAIMS_TABLE]) await db.client.command({ query: sql.replace(/TABLE IF NOT EXISTS (\w+)/, `TABLE IF NOT EXISTS ${database}.$1`) });
    await db.client.command({ query: `INSERT INTO ${database}.events SELECT * FROM alone.events WHERE source_sha256 = '${sha}' ORDER BY seq LIMIT 1` });
    await db.client.command({ query: `INSERT INTO ${database}.${CLAIMS} SELECT arrayJoin(['', '${sha}']), 'other-run', now() - ${claimedAgo}` });
  };
  await partial('held', 5);
  const held = await ingestInto('held');
  assert.equal(held.status, 0, held.stderr);
  assert.match(held.stderr, /being ingested by another run \(other-run\)/);
  assert.doesNotMatch(held.stderr, /cut short/);
  assert.deepEqual((await contents('held')).find((c) => c.s === sha), { s: sha, n: '1', seqs: '1' });
  assert.equal((await contents('held')).length, want.length);
  // The same once that run's claim has lapsed (killed: no beat for two minutes): cleaned up and ingested whole.
  await partial('lapsed', 600);
  const lapsed = await ingestInto('lapsed');
  assert.equal(lapsed.status, 0, lapsed.stderr);
  assert.match(lapsed.stderr, /removing the rows of an ingest cut short/);
  assert.deepEqual(await contents('lapsed'), want);
});

test('claims: of two runs claiming the same 2,500 contents at once (statements of 1,000), exactly one holds each, and once both have ended a third holds all', { timeout: 120_000 }, async () => {
  const shas = Array.from({ length: 2500 }, (_, i) => createHash('sha256').update(`content ${i}`).digest('hex'));
  const [a, b] = await Promise.all([Claims.open(db.client), Claims.open(db.client)]);
  const [heldFromA, heldFromB] = await Promise.all([a.claim(shas), b.claim(shas)]);
  for (const sha of shas) {
    // Held elsewhere for exactly one of them, and then by the other.
    assert.notEqual(heldFromA.has(sha), heldFromB.has(sha), sha);
    if (heldFromA.has(sha)) assert.equal(heldFromA.get(sha), b.run);
    else assert.equal(heldFromB.get(sha), a.run);
  }
  await Promise.all([a.end(), b.end()]);
  const c = await Claims.open(db.client);
  assert.equal((await c.claim(shas)).size, 0);
  await c.end();
});

test('a file ingested under two paths (same content) is stored once and hunted under both, as the in-process hunt reports it', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-copies-'));
  try {
    const sample = samples()[0]!;
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    copyFileSync(sample, join(dir, 'a', 'first.evtx'));
    copyFileSync(sample, join(dir, 'b', 'second.evtx'));
    const url = `clickhouse://127.0.0.1:${db.server.httpPort}/copies`;
    const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const ing = run('ingest', dir, '--to', url, '--no-progress');
    assert.equal(ing.status, 0, ing.stderr);
    assert.match(ing.stderr, /second\.evtx: same content as .*first\.evtx, ingested before; recorded as a copy of it/);
    const [{ n }] = (await (await db.client.query({ query: 'SELECT count() AS n FROM copies.events', format: 'JSONEachRow' })).json()) as { n: string }[];
    assert.equal(Number(n), [...readEvtxFile(sample, { render: 'event' })].length);
    const { remote: got, local } = engineAndInProcess(url, dir);
    assert.ok(got.some((k) => k.includes('first.evtx')) && got.some((k) => k.includes('second.evtx')), got.slice(0, 5).join('\n'));
    assert.deepEqual(got, local);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the same Windows event from two files (each SigmaHQ regression sample\'s EVTX and SigmaHQ\'s JSON of it) is stored once, its EVTX row, whatever the order or the runs; web log lines (numbered, not named) are never taken for one another', { timeout: 600_000 }, async () => {
  const evtx = distinctRegressionSamples();
  const json = evtx.map((f) => f.replace(/\.evtx$/, '.json'));
  // The oracle: the events as the EVTX reader gives them, once per identity (computer, channel, record id, second, provider, event id).
  const identity = (host: unknown, channel: unknown, record: unknown, time: string, provider: unknown, id: unknown) => [host, channel, record, Math.floor(Date.parse(time) / 1000), provider, id].join('|');
  const expected = new Set<string>();
  for (const f of evtx) for (const r of readEvtxFile(f, { render: 'event' })) {
    const v = new EvtxEvent(r.event);
    expected.add(identity(v.get('Computer'), v.get('Channel'), v.get('EventRecordID'), String(v.get('TimeCreated_SystemTime')), v.get('Provider_Name'), v.get('EventID')));
  }
  const dir = mkdtempSync(join(tmpdir(), 'spoor-twins-'));
  // Two IIS logs of one server (two sites) that share lines, numbers and seconds (and a line twice in one): requests, none a twin of another.
  const iis = (extra: string) => `#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-computername s-ip cs-method cs-uri-stem c-ip\n2021-03-03 01:02:03 EX01 10.0.0.5 GET /owa 198.51.100.7\n2021-03-03 01:02:03 EX01 10.0.0.5 GET /owa 198.51.100.7\n${extra}`;
  writeFileSync(join(dir, 'u_ex1.log'), iis(''));
  writeFileSync(join(dir, 'u_ex2.log'), iis('2021-03-03 01:02:04 EX01 10.0.0.5 GET /ecp 198.51.100.7\n'));
  const logs = [join(dir, 'u_ex1.log'), join(dir, 'u_ex2.log')];
  const url = (database: string) => `clickhouse://127.0.0.1:${db.server.httpPort}/${database}`;
  const ingestInto = (database: string, ...args: string[]) => {
    const r = spawnSync(process.execPath, [SPOOR, 'ingest', ...args, '--to', url(database), '--no-progress'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, r.stderr);
    return r.stderr;
  };
  const stored = async (database: string) => {
    const rows = (await (await db.client.query({ query: `SELECT host, channel, record_id, toUInt32(time) AS t, provider, event_id, source_file FROM ${database}.events WHERE channel != 'IIS'`, format: 'JSONEachRow' })).json()) as { host: string; channel: string; record_id: string; t: number; provider: string; event_id: string; source_file: string }[];
    const [{ n }] = (await (await db.client.query({ query: `SELECT count() AS n FROM ${database}.events WHERE channel = 'IIS' AND host = 'EX01'`, format: 'JSONEachRow' })).json()) as { n: string }[];
    return { lines: Number(n), identities: rows.map((r) => identity(r.host, r.channel, r.record_id, new Date(Number(r.t) * 1000).toISOString(), r.provider, r.event_id)).sort(), files: new Set(rows.map((r) => r.source_file.endsWith('.evtx'))) };
  };
  try {
    // The EVTX files first, then the JSON (a second run finds the twins already stored); the JSON first; both in one run on two threads.
    ingestInto('twins_a', ...evtx, ...logs);
    assert.match(ingestInto('twins_a', ...json), /of its events are also stored from another file .*; deleting these rows, so each is stored once/);
    ingestInto('twins_b', ...json);
    ingestInto('twins_b', ...evtx, ...logs);
    ingestInto('twins_c', ...json, ...logs, ...evtx, '--threads', '2');
    for (const database of ['twins_a', 'twins_b', 'twins_c']) {
      const got = await stored(database);
      assert.deepEqual(got.identities, [...expected].sort(), database);
      assert.deepEqual(got.files, new Set([true]), `${database}: a JSON row kept over its EVTX row`);
      assert.equal(got.lines, 5, `${database}: the IIS lines`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ingest: a server that refuses a query is named with its message, exit 1, no stack trace', async () => {
  await db.client.command({ query: 'CREATE DATABASE IF NOT EXISTS wrong' });
  await db.client.command({ query: 'CREATE TABLE IF NOT EXISTS wrong.events (shape String) ENGINE = Memory' });
  const url = `clickhouse://127.0.0.1:${db.server.httpPort}/wrong`;
  const r = spawnSync(process.execPath, [SPOOR, 'ingest', samples()[0]!, '--to', url, '--no-progress'], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`spoor ingest: ${url}: ingest stopped: .*source_sha256`));
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('a database ingested by an earlier Spoor (values four times, the event as raw JSON) is named as such by ingest and hunt --engine, exit 1, nothing inserted', async () => {
  await db.client.command({ query: 'CREATE DATABASE IF NOT EXISTS earlier' });
  const earlier = createTables()[0]!.replace('TABLE IF NOT EXISTS events', 'TABLE earlier.events').replace('lvals_unicode Array(String)', 'lvals Array(String)').replace('shape String', 'raw String');
  await db.client.command({ query: earlier });
  const url = `clickhouse://127.0.0.1:${db.server.httpPort}/earlier`;
  for (const args of [['ingest', samples()[0]!, '--to', url, '--no-progress'], ['hunt', '--engine', url, '--rules', `${ROOT}/rules/exchange`, '--no-progress']]) {
    const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /table events was made by an earlier version of Spoor \(no column shape\); ingest into a new database/);
  }
  const [{ n }] = (await (await db.client.query({ query: 'SELECT count() AS n FROM earlier.events', format: 'JSONEachRow' })).json()) as { n: string }[];
  assert.equal(Number(n), 0);
});

test('hunt --engine: the simulated Exchange server, ingested, gives the in-process hunt\'s detections and indicator hits in the same JSONL; spoor sql prints the queries', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-sql-'));
  try {
    const server = join(dir, 'server');
    assert.equal(spawnSync(process.execPath, [SPOOR, 'demo', 'generate', server, '--size', '1MB', '--intrusion', 'proxylogon', '--seed', '3']).status, 0);
    const url = `clickhouse://127.0.0.1:${db.server.httpPort}/exchange`;
    const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const ing = run('ingest', server, '--to', url);
    assert.equal(ing.status, 0, ing.stderr);
    // A second feed of 1,500 names that occur nowhere: the indicators' literals then take two queries.
    const filler = join(dir, 'filler.txt');
    writeFileSync(filler, Array.from({ length: 1500 }, (_, i) => `nowhere-${i}.example.net`).join('\n') + '\n');
    const rules = ['--rules', `${ROOT}/rules/exchange`, '--rules', `${DATA}/sigma/rules/web`, '--ioc', `${DATA}/ioc/chirp/AA21062A.yaml`, '--ioc', filler, '-f', 'jsonl', '--no-progress'];
    const remote = run('hunt', '--engine', url, ...rules);
    const local = run('hunt', server, ...rules);
    assert.equal(remote.status, 0, remote.stderr);
    const keys = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { rule: { id: string }; file: string; record_id: string; timestamp: string; matched: unknown }).map((d) => `${d.rule.id} ${d.file} ${d.record_id} ${d.timestamp} ${JSON.stringify(d.matched)}`).sort();
    const a = keys(remote.stdout);
    assert.ok(a.length >= 5, remote.stderr);
    assert.ok(a.filter((k) => k.startsWith('spoor-ioc-')).length >= 5, 'too few indicator hits to compare');
    assert.deepEqual(a, keys(local.stdout));
    // --from/--to, which the queries narrow their reading by, give the in-process hunt's detections too.
    const times = remote.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { timestamp: string }).timestamp).sort();
    const window = ['--from', times[Math.floor(times.length / 3)]!, '--to', times[Math.floor((2 * times.length) / 3)]!];
    const remoteWindow = keys(run('hunt', '--engine', url, ...rules, ...window).stdout);
    assert.ok(remoteWindow.length > 0 && remoteWindow.length < a.length, `${remoteWindow.length} of ${a.length} in ${window}`);
    assert.deepEqual(remoteWindow, keys(run('hunt', server, ...rules, ...window).stdout));
    const sql = run('sql', `${ROOT}/rules/exchange`);
    assert.equal(sql.status, 0, sql.stderr);
    assert.match(sql.stdout, /arrayFilter\(\(x, n\) -> n = 'cs-uri-stem', vals, names\)/i);
    assert.equal(run('hunt', '--engine', 'clickhouse://127.0.0.1:1/x', ...rules).status, 1);
    assert.equal(run('hunt', ...rules).status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hunt --engine --since-last hunts only what was ingested since the last such hunt with the same rules and feeds, and nothing twice', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-since-'));
  try {
    const [first, second] = [join(dir, 'first'), join(dir, 'second')];
    for (const [folder, seed] of [[first, '3'], [second, '4']] as const) assert.equal(spawnSync(process.execPath, [SPOOR, 'demo', 'generate', folder, '--size', '1MB', '--intrusion', 'proxylogon', '--seed', seed]).status, 0);
    const url = `clickhouse://127.0.0.1:${db.server.httpPort}/since`;
    const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const rules = ['--rules', `${ROOT}/rules/exchange`, '--rules', `${DATA}/sigma/rules/web`, '--ioc', `${DATA}/ioc/chirp/AA21062A.yaml`, '-f', 'jsonl', '--no-progress'];
    const keys = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { rule: { id: string }; file: string; record_id: string }).map((d) => `${d.rule.id} ${d.file} ${d.record_id}`).sort();
    assert.equal(run('ingest', first, '--to', url).status, 0);
    const once = run('hunt', '--engine', url, '--since-last', ...rules);
    assert.equal(once.status, 0, once.stderr);
    const a = keys(once.stdout);
    assert.ok(a.length >= 5);
    assert.deepEqual(a, keys(run('hunt', '--engine', url, ...rules).stdout));
    // The second server ingested: only its detections, which a full hunt adds to the first's.
    assert.equal(run('ingest', second, '--to', url).status, 0);
    const next = run('hunt', '--engine', url, '--since-last', ...rules);
    assert.equal(next.status, 0, next.stderr);
    const b = keys(next.stdout);
    assert.ok(b.length >= 5 && b.every((k) => k.includes(`${second}/`)), b.slice(0, 3).join('\n'));
    assert.deepEqual([...a, ...b].sort(), keys(run('hunt', '--engine', url, ...rules).stdout));
    // Nothing new: nothing hunted. Other rules (or feeds) are another rule set: everything again.
    const again = run('hunt', '--engine', url, '--since-last', ...rules);
    assert.equal(again.stdout.trim(), '');
    assert.match(again.stderr, /nothing ingested since the last hunt with these rules and feeds/);
    const other = run('hunt', '--engine', url, '--since-last', ...rules.filter((r) => !r.includes('AA21062A') && r !== '--ioc'));
    assert.equal(keys(other.stdout).length, [...a, ...b].filter((k) => !k.startsWith('spoor-ioc-')).length);
    assert.equal(run('hunt', first, '--since-last', ...rules).status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a time window as SQL keeps every row the exact test keeps (times DateTime cannot hold, non-times, any window) and leaves out rows far outside it', async () => {
  const stamps = ['2021-03-02T23:59:59.999Z', '2021-03-03T00:00:00Z', '2021-03-03T12:00:00.5Z', '2021-03-04T00:00:00.001Z', '2021-06-01T00:00:00Z', '2019-01-01T00:00:00Z', '1601-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '2200-01-01T00:00:00Z', 'not a time', ''];
  await insertEvents(db.client, 'times', stamps.map((t, i) => ({ view: new EvtxEvent({ Event: { System: { EventRecordID: i, Channel: 'T', EventID: 1, TimeCreated: { '#attributes': { SystemTime: t } } } } }), timestamp: t, file: 'times', seq: i })));
  const at = (t: string) => Date.parse(t);
  const windows: TimeWindow[] = [{ from: at('2021-03-03T00:00:00Z'), to: at('2021-03-04T00:00:00Z') }, { from: at('2021-03-03T12:00:00.5Z') }, { to: at('2021-03-03T00:00:00Z') }, { from: at('1500-01-01T00:00:00Z') }, { to: at('2300-01-01T00:00:00Z') }, { from: at('2199-01-01T00:00:00Z') }];
  for (const w of windows) {
    const where = windowSql(w);
    const got = where === undefined ? stamps.map((_, i) => i) : ((await (await db.client.query({ query: `SELECT seq FROM times WHERE ${where} ORDER BY seq`, format: 'JSONEachRow' })).json()) as { seq: string }[]).map((r) => Number(r.seq));
    const kept = stamps.map((t, i) => [t, i] as const).filter(([t]) => within(w, t)).map(([, i]) => i);
    assert.deepEqual(kept.filter((i) => !got.includes(i)), [], `window ${JSON.stringify(w)}: SQL ${where} leaves out rows the exact test keeps`);
    if (w.from === at('2021-03-03T00:00:00Z')) assert.ok(!got.includes(4) && !got.includes(5), `window ${JSON.stringify(w)} reads rows months away: ${got}`);
  }
});

test('a batch reads only the rows of the event kinds its rules can match (the sort key begins with channel and event id), and finds in them what the engine does', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-kinds-'));
  try {
    writeFileSync(join(dir, 'cmd.yml'), 'title: cmd\nid: 6b0c4a9e-1d4f-4c55-9f3b-000000000001\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel: {Image|endswith: \\cmd.exe}\n  condition: sel\nlevel: low\n');
    const { rules } = loadRuleSet([dir], pipeline);
    const { converted } = convertRules(rules, pipeline);
    // Three kinds interleaved in time, 12,000 rows each: a table sorted by host and time holds all three in every part of it.
    const kinds = [['Security', 4624], ['Microsoft-Windows-Sysmon/Operational', 1], ['Microsoft-Windows-Sysmon/Operational', 3]] as const;
    const events = Array.from({ length: 36_000 }, (_, i) => {
      const [channel, id] = kinds[i % 3]!;
      const timestamp = new Date(Date.UTC(2021, 2, 3) + i * 1000).toISOString();
      const image = i % 7 === 0 ? 'C:\\Windows\\System32\\cmd.exe' : 'C:\\Windows\\System32\\svchost.exe';
      return { view: new EvtxEvent({ Event: { System: { EventRecordID: i, Channel: channel, EventID: id, Computer: `host${i % 5}`, TimeCreated: { '#attributes': { SystemTime: timestamp } } }, EventData: { Image: image } } }), timestamp, file: 'kinds', seq: i };
    });
    await insertEvents(db.client, 'kinds', events);
    await db.client.command({ query: 'OPTIMIZE TABLE kinds FINAL' });
    const queryId = `kinds-${Date.now()}`;
    const rows = (await (await db.client.query({ query: batchQuery(converted, 'kinds'), format: 'JSONEachRow', query_id: queryId, clickhouse_settings: { log_queries: 1 } })).json()) as { record_id: string }[];
    const expected = events.filter((e) => rules[0]!.match(e.view)).map((e) => String(e.seq));
    assert.ok(expected.length > 1000);
    assert.deepEqual(rows.map((r) => r.record_id).sort(), expected.sort());
    await db.client.command({ query: 'SYSTEM FLUSH LOGS' });
    const [read] = (await (await db.client.query({ query: `SELECT read_rows FROM system.query_log WHERE query_id = '${queryId}' AND type = 2`, format: 'JSONEachRow' })).json()) as { read_rows: string }[];
    // One kind's 12,000 rows, and at most a granule (8,192 rows) of its neighbours at either end.
    assert.ok(Number(read?.read_rows) <= 12_000 + 2 * 8192, `read ${read?.read_rows} of 36,000 rows`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('field tests: the SQL of each modifier selects exactly the events the engine\'s test accepts (nulls, absent fields, case, wildcards, ranges)', { timeout: 120_000 }, async () => {
  const values: unknown[] = [undefined, null, '', 'Foo', 'foo', 'FOO bar', 'a%b_c\\d', 'x*y', '10.1.2.3', '192.168.1.1', '::ffff:10.9.9.9', 'fe80::1', 'FC00::5', '2001:db8::1', '::1', '12', ' 7 ', '3.5', 'abc\ndef', ['foo', 'zzz'], ['', null], 'a.b(x)|y$', 'C:\\Win\\x', '^start', 'tab\there', 'İstanbul', 'ÄBC Straße', 'KELVIN \u212a', 'ΣΟΦΙΑ Привет', ['ǅemal', 'ÉCOLE']];
  const events = values.map((v, i) => ({ Event: { System: { EventRecordID: i, Channel: 'T', EventID: 1 }, EventData: v === undefined ? { Other: 'x' } : { F: v, G: i % 2 ? 'foo' : 'Foo', Other: 'x' } } }));
  await insertEvents(db.client, 'cases', events.map((e, i) => ({ view: new EvtxEvent(e), timestamp: '2021-01-01T00:00:00Z', file: 'cases', seq: i })));
  const tests: [string, unknown[]][] = [
    ['F', ['foo']], ['F', [null]], ['F', ['']], ['F', ['f*']], ['F', ['*o b*']], ['F', ['a%b_c\\\\d']], ['F', ['x\\*y']], ['F', ['?oo']],
    ['F|cased', ['Foo']], ['F|contains', ['OO']], ['F|startswith', ['fo']], ['F|endswith', ['BAR']], ['F|contains|all', ['foo', 'bar']],
    ['F|neq', ['foo']], ['F|exists', [true]], ['F|exists', [false]], ['F|re', ['^F.o$']], ['F|re|i', ['^foo$']], ['F|re|s', ['c.d']], ['F|re', ['(?i)foo']], ['F|re', ['(?i)^foo$']], ['F|re|s', ['(?i)C.D']], ['F|re|i', ['(?s)C.D']],
    ['F|cidr', ['10.0.0.0/8']], ['F|cidr', ['192.168.0.0/16', 'fc00::/7']], ['F|cidr', ['fe80::/10']], ['F|cidr', ['::1/128']], ['F|cidr', ['2001:db8::/33']],
    ['F|gt', [10]], ['F|lte', [7]], ['F|fieldref', ['G']], ['F|fieldref|cased', ['G']], ['F', ['foo', null]], ['F|windash', ['-x']],
    // Lists: plain texts as one set, more than a few patterns with * as one regular expression (metacharacters and control characters as themselves).
    ['F', ['foo', 'bar', 'x*y', '', 'FOO BAR']], ['F', ['f*', '*y', 'x*', '*o b*', '1*']], ['F|contains', ['OO', '.b(', ')|y$', 'win\\', 'b\nc', 'b\th']],
    ['F|startswith', ['a.', 'c:\\', 'fe8', '^st', '::']], ['F|endswith', ['$', '.1', 'bar', 'ef', '\\x']], ['F|neq', ['foo', 'bar', 'baz', 'x*', '12']],
    ['F|contains|all', ['a', 'b', 'c', '.', '(']], ['F', ['f?o', 'a*', 'b*', 'c*', 'x*']], ['F|cased|contains', ['Oo', 'AR', 'bAr', 'x', 'Win']], ['F', ['foo', 'bar', 'baz', 'x*', null]],
    // Text beyond ASCII: lower-cased as the engine does (JavaScript's), not as ClickHouse's lowerUTF8 would.
    ['F|contains', ['istanbul']], ['F|contains', ['i\u0307stanbul']], ['F|startswith', ['äbc']], ['F|contains', ['strasse']], ['F|contains', ['STRASSE', 'straße']], ['F|endswith', ['kelvin k']], ['F|endswith', [' k']],
    ['F|contains', ['σοφια', 'привет']], ['F', ['ǆemal']], ['F|cased|contains', ['ÄBC', 'Привет']], ['F|re|i', ['^äbc']], ['F|fieldref', ['F']], ['F', ['école', 'ǆ*', 'x*', 'y*']],
  ];
  const differ: string[] = [];
  for (const [key, vals] of tests) {
    const [field, ...mods] = key.split('|');
    const engine = compileFieldTest(mods, vals);
    const want = events.map((e, i) => [i, engine(new EvtxEvent(e).get(field!), new EvtxEvent(e))] as const).filter(([, ok]) => ok).map(([i]) => i);
    const sql = fieldSql(field!, mods, vals, {});
    const got = ((await (await db.client.query({ query: `SELECT seq FROM cases WHERE ${sql} ORDER BY seq`, format: 'JSONEachRow' })).json()) as { seq: string }[]).map((r) => Number(r.seq));
    if (JSON.stringify(got) !== JSON.stringify(want)) differ.push(`${key}: ${JSON.stringify(vals)}: engine ${JSON.stringify(want)}, SQL ${JSON.stringify(got)}`);
  }
  // The literal prefilter: a search each for a few literals, one regular expression for more.
  const stored = ((await (await db.client.query({ query: 'SELECT ltext FROM cases ORDER BY seq', format: 'JSONEachRow' })).json()) as { ltext: string }[]).map((r) => r.ltext);
  for (const literals of [['foo'], ['oo', 'zz'], ['oo', '.b(', ')|y$', 'win\\', 'c\nd', 'b\th', '^st', '*y', '[', '{1}', '?'], ['äbc', 'привет'], ['i\u0307stanbul', 'kelvin k']]) {
    const want = stored.map((t, i) => [i, literals.some((l) => t.includes(l))] as const).filter(([, ok]) => ok).map(([i]) => i);
    const got = ((await (await db.client.query({ query: `SELECT seq FROM cases WHERE ${holdsOneOf('ltext', literals)} ORDER BY seq`, format: 'JSONEachRow' })).json()) as { seq: string }[]).map((r) => Number(r.seq));
    if (JSON.stringify(got) !== JSON.stringify(want)) differ.push(`literals ${JSON.stringify(literals)}: ${JSON.stringify(want)} held, SQL ${JSON.stringify(got)}`);
  }
  assert.deepEqual(differ, []);
});

test('RowBinary rows as the server reads them: strings of any length and script, arrays, large numbers, rows across chunks of any size', async () => {
  const texts = ['', 'a', 'x'.repeat(42), 'é'.repeat(42), `${'y'.repeat(41)}€`, 'z'.repeat(43), `${'q'.repeat(42)}é`, 'İstanbul ΣΑΣ 😀', '\u0000\t\n\\\'"', '😀'.repeat(100), 'w'.repeat(200_000), 'é'.repeat(700_000)];
  const rows = texts.map((s, i) => ({ s, a: texts.slice(0, i % 4).concat([s.slice(0, 50)]), n: [0, 127, 128, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1][i % 6]!, k: [i % 3, 255, 0].slice(0, i % 4) }));
  for (const chunk of [7, 1 << 20]) {
    const table = `row_binary_${chunk}`;
    await db.client.command({ query: `CREATE TABLE ${table} (i UInt8, s String, a Array(String), n UInt64, k Array(UInt8), j String) ENGINE = MergeTree() ORDER BY i` });
    const w = new RowBinaryWriter(chunk);
    const insert = new RowBinaryInsert(db.client, table);
    for (const [i, r] of rows.entries()) {
      w.uint8(i);
      w.string(r.s);
      w.stringArray(r.a);
      w.uint64(r.n);
      w.uint8Array(r.k);
      w.joined(r.a, '\n');
      if (w.hasFullChunks) await insert.write(w.take());
    }
    await insert.write(w.take(true));
    await insert.end();
    const back = (await (await db.client.query({ query: `SELECT i, s, a, toString(n) AS n, k, j FROM ${table} ORDER BY i`, format: 'JSONEachRow' })).json()) as { s: string; a: string[]; n: string; k: number[]; j: string }[];
    assert.equal(back.length, rows.length, `chunks of ${chunk} bytes`);
    for (const [i, r] of rows.entries()) assert.deepEqual(back[i], { i, s: r.s, a: r.a, n: String(r.n), k: r.k, j: r.a.join('\n') }, `row ${i}, chunks of ${chunk} bytes`);
  }
});

test('an insert the server refuses fails with its message, whatever was sent', async () => {
  const insert = new RowBinaryInsert(db.client, 'no_such_table');
  const w = new RowBinaryWriter(1024);
  for (let i = 0; i < 10_000; i++) w.string('row');
  await assert.rejects(async () => {
    await insert.write(w.take(true));
    await insert.end();
  }, /no_such_table/);
});
