import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DATA, SPOOR } from '../helpers/paths.js';

const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
const SAMPLES = `${DATA}/evtx/attack-samples`;

test('spoor query: ad-hoc SQL over EVTX with DuckDB counts what libevtx\'s evtxexport reads, per event id', () => {
  const file = spawnSync('sh', ['-c', `ls ${SAMPLES}/*/*.evtx ${SAMPLES}/*.evtx 2>/dev/null | head -40`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  assert.ok(file.length > 0);
  // The oracle: evtxexport's XML, one <EventID> per record.
  const want = new Map<string, number>();
  for (const f of file) {
    const xml = spawnSync('evtxexport', ['-f', 'xml', f], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
    for (const m of xml.matchAll(/<EventID[^>]*>(\d+)<\/EventID>/g)) want.set(m[1]!, (want.get(m[1]!) ?? 0) + 1);
  }
  const r = run('query', 'SELECT event_id, count(*) AS n FROM events GROUP BY event_id', ...file, '-f', 'jsonl');
  assert.equal(r.status, 0, r.stderr);
  const got = new Map(r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event_id: string; n: string }).map((x) => [x.event_id, Number(x.n)]));
  assert.deepEqual(new Map([...got].sort()), new Map([...want].sort()));
});

test('spoor query: fields by name, a kept database queried again, bad SQL reported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-query-'));
  try {
    const server = join(dir, 'server');
    assert.equal(run('demo', 'generate', server, '--size', '1MB', '--intrusion', 'proxylogon', '--seed', '3').status, 0);
    const db = join(dir, 'events.duckdb');
    const first = run('query', "SELECT count(*) AS n FROM events WHERE fields->>'cs-uri-stem' ILIKE '/aspnet_client/%'", server, '--db', db, '-f', 'jsonl');
    assert.equal(first.status, 0, first.stderr);
    // The planted web shell was posted to from aspnet_client (demo/ground-truth.json says so).
    assert.ok(Number((JSON.parse(first.stdout) as { n: string }).n) > 0);
    const again = run('query', 'SELECT count(*) AS n FROM events', '--db', db, '-f', 'csv');
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /^n\n\d+\n$/);
    const bad = run('query', 'SELEC nonsense', '--db', db);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /spoor query: .*syntax/i);
    assert.equal(run('query', 'SELECT 1').status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
