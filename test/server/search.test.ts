import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HuntRecord } from '../../src/report/hunt-output.js';
import Database from 'better-sqlite3';
import { CaseStore } from '../../src/server/store.js';
import { DATA, SPOOR } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-search-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let records: HuntRecord[] = [];
let store: CaseStore;
let id = 0;

before(async () => {
  // Detections of real attack samples (logs we did not make), hunted with SigmaHQ's rules.
  const r = spawnSync(process.execPath, [SPOOR, 'hunt', `${DATA}/evtx/attack-samples`, '--rules', `${DATA}/sigma/rules`, '-f', 'jsonl', '--no-progress'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  records = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as HuntRecord);
  store = new CaseStore(join(tmp, 'cases.sqlite'));
  id = store.createCase('search', 'hunt', null).id;
  await store.replaceDetections(id, (async function* () {
    yield* records;
  })());
});
after(() => store?.close());

/** The oracle: a detection's values (rule, place, matched values, event) as leaves with their keys, searched by regular expression. */
function leaves(d: HuntRecord): [string, string][] {
  const out: [string, string][] = [];
  const walk = (v: unknown, key: string) => {
    if (v === null || v === undefined) return;
    if (typeof v === 'object') {
      for (const [k, x] of Array.isArray(v) ? v.map((x) => [key, x] as const) : Object.entries(v)) walk(x, k === '#text' || k === '#attributes' ? key : k);
    } else out.push([key, String(v)]);
  };
  walk({ rule: d.rule.title, ruleid: d.rule.id, level: d.rule.level, technique: d.rule.techniques, tag: d.rule.tags, host: d.computer, channel: d.channel, eventid: d.event_id, file: d.file }, '');
  walk(d.matched, '');
  walk(d.event, '');
  return out;
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Words in order, each whole (or the last a prefix), anything not a letter or digit between them. */
const phrase = (words: string[], prefix: boolean) => new RegExp(`(^|[^\\p{L}\\p{N}_])${words.map(escape).join('[^\\p{L}\\p{N}_]+')}${prefix ? '' : '(?![\\p{L}\\p{N}_])'}`, 'iu');
const norm = (k: string) => k.replace(/[^\p{L}\p{N}_]/gu, '').toLowerCase();

function expected(terms: { field?: string; words: string[]; prefix?: boolean }[]): number[] {
  return records.flatMap((d, i) => (terms.every((t) => leaves(d).some(([k, v]) => (t.field === undefined || norm(k) === norm(t.field)) && phrase(t.words, t.prefix ?? false).test(v))) ? [i] : []));
}
const found = (q: string) => {
  const { total, rows } = store.detections(id, { q, limit: 1000 });
  const keys = new Map(records.map((d, i) => [JSON.stringify(d), i]));
  assert.equal(rows.length, Math.min(total, 1000));
  // Rows come with the analyst's note and labels beside the detection.
  return rows.map((r) => {
    const { key: _key, note: _note, labels: _labels, ...d } = r as Record<string, unknown>;
    return keys.get(JSON.stringify(d))!;
  }).sort((a, b) => a - b);
};

test('search: words, phrases, addresses, prefixes and field:value find exactly the detections whose rule, place or event holds them', () => {
  assert.ok(records.length > 1000, `${records.length} detections`);
  const cases: [string, { field?: string; words: string[]; prefix?: boolean }[]][] = [
    ['whoami', [{ words: ['whoami'] }]],
    ['mimikatz', [{ words: ['mimikatz'] }]],
    ['"cmd.exe /c"', [{ words: ['cmd', 'exe', 'c'] }]],
    ['powershell.exe', [{ words: ['powershell', 'exe'] }]],
    ['lsass.exe', [{ words: ['lsass', 'exe'] }]],
    ['mimi*', [{ words: ['mimi'], prefix: true }]],
    ['CommandLine:whoami', [{ field: 'CommandLine', words: ['whoami'] }]],
    ['Image:"powershell.exe"', [{ field: 'Image', words: ['powershell', 'exe'] }]],
    ['EventID:4688', [{ field: 'EventID', words: ['4688'] }]],
    ['TargetUserName:administrator', [{ field: 'TargetUserName', words: ['administrator'] }]],
    ['level:high CommandLine:powershell', [{ field: 'level', words: ['high'] }, { field: 'CommandLine', words: ['powershell'] }]],
    ['technique:T1003', [{ field: 'technique', words: ['T1003'] }]],
  ];
  const report: string[] = [];
  for (const [q, terms] of cases) {
    const want = expected(terms);
    const got = found(q);
    report.push(`${q}: ${got.length}`);
    assert.ok(want.length > 0, `${q}: the oracle finds nothing; a useless case`);
    if (JSON.stringify(got) !== JSON.stringify(want)) report.push(`DIFF ${q}: missing ${want.filter((i) => !got.includes(i)).slice(0, 5)} extra ${got.filter((i) => !want.includes(i)).slice(0, 5)}`);
  }
  console.log(report.join('; '));
  assert.deepEqual(report.filter((r) => r.startsWith('DIFF')), []);
});

test('search: what an analyst types is never FTS syntax (quotes, operators, parentheses, stars alone), and a bad field name is a clear error', () => {
  for (const q of ['"', 'AND', 'NOT OR', '(', 'a OR', '*', '":"', 'NEAR(a b)', '{text}:x', '^x', 'a"b"c', '-x', '\u0000']) {
    assert.doesNotThrow(() => store.detections(id, { q }), q);
  }
  assert.throws(() => store.detections(id, { q: '!!:x' }), /not a field name/);
});

test('search: a time range keeps the detections between its ends, both included, whatever the form of their times; a bound that is no time is refused', () => {
  const times = records.map((d) => d.timestamp).filter(Boolean).sort();
  // Bounds as an analyst types them, to the second (a time's fraction beyond the millisecond is rounded by SQLite, cut by JavaScript).
  const from = `${times[Math.floor(times.length / 4)]!.slice(0, 19)}Z`;
  const to = `${times[Math.floor((3 * times.length) / 4)]!.slice(0, 19)}Z`;
  // Instants, not text: times come with fractions of any length.
  const want = records.filter((d) => Date.parse(d.timestamp) >= Date.parse(from) && Date.parse(d.timestamp) <= Date.parse(to)).length;
  assert.equal(store.detections(id, { from, to }).total, want);
  assert.ok(want > 0 && want < records.length);
  assert.throws(() => store.detections(id, { from: 'yesterday' }), /not a time/);
});

test('search: a store made before the index is indexed when opened, and finds what a new one finds', async () => {
  const file = join(tmp, 'old.sqlite');
  const old = new Database(file);
  // The tables as the previous version made them: detections with a search column and no index.
  old.exec(`CREATE TABLE cases (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, kind TEXT NOT NULL, created TEXT NOT NULL, evidence_path TEXT, status TEXT NOT NULL DEFAULT 'new', message TEXT, progress TEXT, detections INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0, finished TEXT);
CREATE TABLE detections (case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE, generation INTEGER NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL, level TEXT NOT NULL, level_rank INTEGER NOT NULL, rule TEXT NOT NULL, host TEXT NOT NULL, search TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (case_id, generation, seq));`);
  old.prepare("INSERT INTO cases (name, kind, created, detections, generation) VALUES ('old', 'hunt', '2021-03-03', ?, 1)").run(records.length);
  const insert = old.prepare("INSERT INTO detections VALUES (1, 1, ?, ?, ?, 0, ?, ?, 'old text', ?)");
  old.transaction(() => records.forEach((d, i) => insert.run(i, d.timestamp, d.rule.level ?? 'unknown', d.rule.title, d.computer, JSON.stringify(d))))();
  old.close();
  const reopened = new CaseStore(file);
  try {
    for (const q of ['whoami', 'CommandLine:whoami', '"cmd.exe /c"']) assert.equal(reopened.detections(1, { q }).total, store.detections(id, { q }).total, q);
  } finally {
    reopened.close();
  }
});
