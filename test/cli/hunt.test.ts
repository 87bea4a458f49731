import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DATA, listFiles, SPOOR } from '../helpers/paths.js';

function spoor(...args: string[]) {
  const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'spoor-hunt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SAMPLE_DIR = `${DATA}/sigma/regression_data/rules/windows/process_creation/proc_creation_win_certutil_decode`;
const RULE = `${DATA}/sigma/rules/windows/process_creation/proc_creation_win_certutil_decode.yml`;

test('hunt --format jsonl: each detection names the rule, the event and where it came from', () => {
  const r = spoor('hunt', SAMPLE_DIR, '--format', 'jsonl', '--rules', RULE);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  // The sample is there twice, as .evtx and as .json: one detection from each.
  assert.equal(lines.length, 2);
  for (const d of lines) {
    assert.equal(d.rule.id, 'cc9cbe82-7bc0-4ef5-bc23-bbfb83947be7');
    assert.equal(d.rule.title, 'File Decoded From Base64/Hex Via Certutil.EXE');
    assert.equal(d.rule.level, 'high');
    assert.ok(d.rule.tags.includes('attack.t1027'));
    assert.deepEqual(d.rule.techniques, ['T1027']);
    assert.match(d.timestamp, /^\d{4}-\d\d-\d\dT/);
    assert.ok(d.record_id);
    assert.match(d.event.Event.EventData.CommandLine, /-decode/);
  }
  assert.deepEqual(lines.map((d) => d.file.split('.').pop()).sort(), ['evtx', 'json']);
});

test('hunt --format csv has a header and a row per detection; table is the default', () => {
  const csv = spoor('hunt', SAMPLE_DIR, '--format', 'csv', '--rules', RULE);
  assert.equal(csv.code, 0);
  const rows = csv.stdout.trim().split('\n');
  assert.equal(rows[0], 'timestamp,level,rule_title,rule_id,computer,channel,event_id,record_id,file,techniques');
  assert.equal(rows.length, 3);
  const table = spoor('hunt', SAMPLE_DIR, '--rules', RULE);
  assert.match(table.stdout, /high\s+File Decoded From Base64\/Hex Via Certutil\.EXE/);
});

test('--fail-on: exit 1 when a detection reaches the level, 0 when none does', () => {
  assert.equal(spoor('hunt', SAMPLE_DIR, '--fail-on', 'high', '--rules', RULE).code, 1);
  assert.equal(spoor('hunt', SAMPLE_DIR, '--fail-on', 'critical', '--rules', RULE).code, 0);
});

test('a bad rule is reported by file and line; the other rules still run', () => {
  const dir = join(tmp, 'rules');
  spawnSync('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'good.yml'), readFileSync(RULE));
  writeFileSync(join(dir, 'bad-modifier.yml'), 'title: Bad\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    CommandLine|nosuch: x\n  condition: sel\n');
  writeFileSync(join(dir, 'bad-yaml.yml'), 'title: Broken\ndetection: [\n');
  // Hostile rules: aliases that expand a billion-fold, a condition nested 20,000 deep.
  const laughs = ['a: &a [x,x,x,x,x,x,x,x,x,x]', ...'bcdefghi'.split('').map((l, i) => `${l}: &${l} [${Array(10).fill(`*${'abcdefghi'[i]}`).join(',')}]`)];
  writeFileSync(join(dir, 'laughs.yml'), `title: Laughs\nlogsource:\n  product: windows\ndetection:\n  sel:\n    x: 1\n  condition: sel\n${laughs.join('\n')}\n`);
  writeFileSync(join(dir, 'deep.yml'), `title: Deep\nlogsource:\n  product: windows\ndetection:\n  sel:\n    x: 1\n  condition: ${'('.repeat(20_000)}sel${')'.repeat(20_000)}\n`);
  const r = spoor('hunt', SAMPLE_DIR, '--format', 'jsonl', '--rules', dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /bad-modifier\.yml:7: rule not loaded: CommandLine\|nosuch: unknown modifier "nosuch"/);
  assert.match(r.stderr, /bad-yaml\.yml:\d+: rule not loaded: invalid YAML/);
  assert.match(r.stderr, /laughs\.yml:\d+: rule not loaded: invalid YAML: Excessive alias count/);
  assert.match(r.stderr, /deep\.yml:\d+: rule not loaded: condition: condition nested deeper than 100 levels/);
  assert.equal(r.stdout.trim().split('\n').length, 2, 'the good rule still fired');
  const check = spoor('rules', 'check', dir);
  assert.equal(check.code, 1, 'rules check exits 1 when a rule is in error');
  assert.match(check.stdout, /1 rules and 0 correlations loaded, 0 set aside, 4 in error/);
});

test('rules check over every SigmaHQ rule folder: all loaded or set aside for a correct reason, none in error', () => {
  const dirs = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-compliance', 'rules-dfir', 'rules-placeholder'].map((d) => `${DATA}/sigma/${d}`);
  const r = spoor('rules', 'check', ...dirs);
  assert.equal(r.code, 0, r.stdout.split('\n').filter((l) => / error: /.test(l)).join('\n'));
  const summary = r.stdout.trim().split('\n').pop()!;
  console.log(summary);
  const reasons = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const m = / set aside: (?:[^:]*: )?(deprecated|unsupported logsource \(([^)]*)\)|placeholder %\w+%|correlation|filter)/.exec(line);
    if (m) reasons.set(m[2] ? `unsupported logsource: ${m[2]}` : m[1]!, (reasons.get(m[2] ? `unsupported logsource: ${m[2]}` : m[1]!) ?? 0) + 1);
  }
  for (const [k, n] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`  ${n} ${k}`);
  // Set aside only for logsources that are not Windows event logs, or for placeholders without values.
  for (const k of reasons.keys()) {
    if (k.startsWith('unsupported logsource:') && /product: windows/.test(k)) {
      assert.match(k, /category: (file_access|file_rename)/, `a Windows log source without a mapping: ${k}`);
    }
  }
});

test('no surprises on clean logs: every hit of every rule on the edge-case samples is listed for review', () => {
  const dirs = ['rules', 'rules-emerging-threats', 'rules-threat-hunting'].map((d) => `${DATA}/sigma/${d}`);
  const r = spoor('hunt', `${DATA}/evtx/edge-cases/samples`, '--format', 'csv', '--rules', ...dirs);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').slice(1);
  const byRule = new Map<string, number>();
  for (const row of rows) {
    const cells = row.split(',');
    const key = `${cells[1]}: ${cells[2]}`;
    byRule.set(key, (byRule.get(key) ?? 0) + 1);
  }
  console.log(`edge-case samples: ${rows.length} detections by ${byRule.size} rules`);
  for (const [k, n] of [...byRule].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(5)}  ${k}`);
  assert.ok(listFiles(`${DATA}/evtx/edge-cases/samples`, '.evtx').length > 20);
  // These are ordinary logs (and corrupt copies of them): nothing there should be critical.
  assert.deepEqual(rows.filter((row) => row.split(',')[1] === 'critical'), []);
});

test('a --rules path that does not exist, or no usable rule, is a usage error: exit 2, named on stderr', () => {
  const r = spoor('hunt', SAMPLE_DIR, '--rules', join(tmp, 'no-such-rules'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--rules .*no-such-rules: no such file or directory/);
  const empty = join(tmp, 'empty-rules');
  spawnSync('mkdir', ['-p', empty]);
  writeFileSync(join(empty, 'linux.yml'), 'title: L\nlogsource: {product: linux}\ndetection: {s: {a: 1}, condition: s}\n');
  const none = spoor('hunt', SAMPLE_DIR, '--rules', empty);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no rule could be loaded/);
});
