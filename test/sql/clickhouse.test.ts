import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import { parse } from 'yaml';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { planHuntUnits } from '../../src/hunt/hunt.js';
import { RuleIndex } from '../../src/hunt/rule-index.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { connect, parseClickHouseUrl } from '../../src/sql/client.js';
import { convertRules, huntInClickHouse } from '../../src/sql/hunt.js';
import { ingest } from '../../src/sql/ingest.js';
import { sha256Of } from '../../src/sql/schema.js';
import { type TestClickHouse, startClickHouse } from '../helpers/clickhouse.js';
import { DATA, ROOT, SPOOR, listFiles } from '../helpers/paths.js';

const RULE_DIRS = ['rules', 'rules-emerging-threats', 'rules-threat-hunting'].map((d) => `${DATA}/sigma/${d}`);
const pipeline = loadPipeline(DEFAULT_PIPELINE);
let ch: TestClickHouse;
let client: ClickHouseClient;
before(async () => {
  ch = await startClickHouse();
  client = (await connect(parseClickHouseUrl(`clickhouse://127.0.0.1:${ch.httpPort}/parity`))).client;
});
after(async () => {
  await client?.close();
  await ch?.stop();
});

const samples = () => listFiles(`${DATA}/sigma/regression_data`, 'info.yml').flatMap((f) => (parse(readFileSync(f, 'utf8')) as { regression_tests_info: { path: string }[] }).regression_tests_info.map((t) => join(DATA, 'sigma', t.path)));

test('parity: every SigmaHQ regression sample, ingested into ClickHouse and hunted there with SigmaHQ\'s rules, gives the in-process engine\'s detections (rule id, file, record id)', { timeout: 900_000 }, async () => {
  // Two samples with the same content are one file to ingest (it is known by its content).
  const bySha = new Map<string, string>();
  for (const f of new Set(samples())) if (!bySha.has(sha256Of(readFileSync(f)))) bySha.set(sha256Of(readFileSync(f)), f);
  const files = [...bySha.values()];
  assert.ok(files.length >= 150);
  const ruleSet = loadRuleSet(RULE_DIRS, pipeline);
  const { converted, notConverted } = convertRules(ruleSet.rules, pipeline);
  const units = planHuntUnits(files.map((path) => ({ path, size: statSync(path).size })));
  let t = Date.now();
  const report = await ingest(client, units, () => undefined);
  const ingestMs = Date.now() - t;
  t = Date.now();
  assert.equal(report.files, files.length);

  // The in-process engine, on the same events, with the same rules.
  const local = new Set<string>();
  const index = new RuleIndex(converted.map((c) => c.rule));
  for (const file of files) {
    for (const r of readEvtxFile(file, { render: 'event' })) {
      const view = new EvtxEvent(r.event);
      for (const n of index.matchNumbers(view)) local.add(`${index.rule(n).rule.id}\t${relative(DATA, file)}\t${view.get('EventRecordID')}`);
    }
  }
  const localMs = Date.now() - t;
  t = Date.now();
  const remote = new Set<string>();
  for await (const d of huntInClickHouse(client, converted)) remote.add(`${d.rule.rule.id}\t${relative(DATA, d.file)}\t${d.recordId}`);
  const remoteMs = Date.now() - t;
  console.log(`parity timings: ingest ${ingestMs} ms, in-process ${localMs} ms, ClickHouse ${remoteMs} ms`);
  const missing = [...local].filter((k) => !remote.has(k));
  const extra = [...remote].filter((k) => !local.has(k));
  console.log(`parity: ${converted.length} rules converted, ${notConverted.length} not (${[...new Set(notConverted.map((n) => n.reason.replace(/^[^:]*: /, '').slice(0, 60)))].slice(0, 8).join('; ')}); ${local.size} detections in-process, ${remote.size} in ClickHouse`);
  for (const k of [...missing, ...extra].slice(0, 20)) console.log(`  DIFFERS ${missing.includes(k) ? 'only in-process' : 'only in ClickHouse'}: ${k}`);
  assert.ok(local.size > 150, `only ${local.size} detections in-process`);
  assert.deepEqual({ missing: missing.slice(0, 10), extra: extra.slice(0, 10) }, { missing: [], extra: [] });
  // Every rule a regression sample names was converted.
  const named = listFiles(`${DATA}/sigma/regression_data`, 'info.yml').flatMap((f) => (parse(readFileSync(f, 'utf8')) as { rule_metadata: { id: string }[] }).rule_metadata.map((m) => m.id));
  const reasons = named.map((id) => notConverted.find((n) => n.rule.rule.id === id)).filter((n) => n).map((n) => `${n!.rule.rule.title}: ${n!.reason}`);
  assert.deepEqual(reasons, []);
});

test('idempotent ingest: the same folder twice leaves the row count unchanged', async () => {
  const count = async () => Number(((await (await client.query({ query: 'SELECT count() AS n FROM events', format: 'JSONEachRow' })).json()) as { n: string }[])[0]!.n);
  const before = await count();
  const files = [...new Set(samples())].slice(0, 10);
  const r = spawnSync(process.execPath, [SPOOR, 'ingest', ...files, '--to', `clickhouse://127.0.0.1:${ch.httpPort}/parity`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(await count(), before);
  assert.match(r.stderr, /skipped/);
});

test('hunt --engine: the simulated Exchange server, ingested, gives the in-process hunt\'s detections in the same JSONL; spoor sql prints the queries', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-sql-'));
  try {
    const server = join(dir, 'server');
    assert.equal(spawnSync(process.execPath, [SPOOR, 'demo', 'generate', server, '--size', '1MB', '--intrusion', 'proxylogon', '--seed', '3']).status, 0);
    const url = `clickhouse://127.0.0.1:${ch.httpPort}/exchange`;
    const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const ing = run('ingest', server, '--to', url);
    assert.equal(ing.status, 0, ing.stderr);
    const rules = ['--rules', `${ROOT}/rules/exchange`, '--rules', `${DATA}/sigma/rules/web`, '-f', 'jsonl', '--no-progress'];
    const remote = run('hunt', '--engine', url, ...rules);
    const local = run('hunt', server, ...rules);
    assert.equal(remote.status, 0, remote.stderr);
    const keys = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { rule: { id: string }; file: string; record_id: string; timestamp: string; matched: unknown }).map((d) => `${d.rule.id} ${d.file} ${d.record_id} ${d.timestamp} ${JSON.stringify(d.matched)}`).sort();
    const a = keys(remote.stdout);
    assert.ok(a.length >= 5, remote.stderr);
    assert.deepEqual(a, keys(local.stdout));
    const sql = run('sql', `${ROOT}/rules/exchange`);
    assert.equal(sql.status, 0, sql.stderr);
    assert.match(sql.stdout, /arrayExists\(\(n, v, lv, k\) -> n = 'cs-uri-stem'/i);
    assert.equal(run('hunt', '--engine', 'clickhouse://127.0.0.1:1/x', ...rules).status, 1);
    assert.equal(run('hunt', ...rules).status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
