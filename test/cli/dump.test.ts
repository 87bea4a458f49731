import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConcatenatedJson } from '../../src/evidence/json.js';
import { sampleSecurityEvents, sampleSysmonEvents } from '../../src/evidence/evtx/sample-events.js';
import { writeEvtx } from '../../src/evidence/evtx/writer.js';
import { DATA, listFiles, ROOT, SPOOR } from '../helpers/paths.js';

function spoor(...args: string[]) {
  const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'spoor-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('spoor --help lists the commands; dump --help documents formats and exit codes', () => {
  const top = spoor('--help');
  assert.equal(top.code, 0);
  assert.match(top.stdout, /dump/);
  const dump = spoor('dump', '--help');
  assert.equal(dump.code, 0);
  assert.match(dump.stdout, /jsonl/);
  assert.match(dump.stdout, /Exit status/);
});

test('dump --format jsonl prints one evtx_dump object per line', () => {
  const sample = listFiles(`${DATA}/sigma/regression_data/rules/windows/builtin/wmi`, '.evtx')[0]!;
  const r = spoor('dump', sample);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines, parseConcatenatedJson(readFileSync(sample.replace(/\.evtx$/, '.json'), 'utf8')));
});

test('dump --format xml prints Event XML', () => {
  const r = spoor('dump', '--format', 'xml', `${DATA}/evtx/edge-cases/samples/Security_short_selected.evtx`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^<Event xmlns="http:\/\/schemas.microsoft.com\/win\/2004\/08\/events\/event">\n  <System>/);
  assert.equal((r.stdout.match(/<\/Event>/g) ?? []).length, (r.stdout.match(/<Event /g) ?? []).length);
});

test('output is the same in file and record order with one thread or several', () => {
  const dir = `${DATA}/evtx/attack-samples/Lateral Movement`;
  const one = spoor('dump', '--threads', '1', dir);
  const two = spoor('dump', '--threads', '2', dir);
  assert.equal(one.code, 0);
  assert.ok(one.stdout.length > 100_000);
  assert.equal(two.stdout, one.stdout);
});

test('a corrupt chunk is reported on stderr and the rest is still printed; exit 0', () => {
  const r = spoor('dump', `${DATA}/evtx/edge-cases/samples/sysmon.evtx`);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /sysmon\.evtx: chunk \d+, offset 0x[0-9a-f]+: error: bad chunk signature/);
  assert.ok(r.stdout.split('\n').length > 300, 'the records of the good chunks are printed');
});

test('a missing path or a file that is not EVTX: named on stderr, exit 1, other files still dumped', () => {
  const notEvtx = join(tmp, 'notes.evtx');
  copyFileSync(`${DATA}/evtx/edge-cases/samples/binxml.dat`, notEvtx);
  const good = `${DATA}/evtx/edge-cases/samples/Security_short_selected.evtx`;
  const r = spoor('dump', join(tmp, 'missing.evtx'), notEvtx, good);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing\.evtx: no such file or directory/);
  assert.match(r.stderr, /notes\.evtx: file header, offset 0x0: error: not an EVTX file/);
  assert.ok(r.stdout.length > 0, 'the good file was still dumped');
});

test('a bad option is a usage error: exit 2', () => {
  const r = spoor('dump', '--format', 'yaml', 'x.evtx');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /yaml/);
});

test('memory stays flat whatever the file size: a log 8 times larger peaks within 64 MiB of the smaller', () => {
  const events = [...sampleSysmonEvents(), ...sampleSecurityEvents()];
  const small = join(tmp, 'small.evtx');
  writeEvtx(small, Array.from({ length: 20_000 }, (_, i) => ({ ...events[i % events.length]!, time: events[i % events.length]!.time + i })));
  // The large one repeats the small one's chunks (every chunk present is read, as in dirty files).
  const bytes = readFileSync(small);
  const chunks = bytes.subarray(4096);
  const large = join(tmp, 'large.evtx');
  writeFileSync(large, Buffer.concat([bytes.subarray(0, 4096), ...Array.from({ length: 8 }, () => chunks)]));
  const peak = (file: string) => {
    const out = execFileSync('python3', [join(ROOT, 'bench/measure.py'), process.execPath, SPOOR, 'dump', '--threads', '1', file], { encoding: 'utf8' });
    const r = JSON.parse(out) as { code: number; maxRssKiB: number };
    assert.equal(r.code, 0);
    return r.maxRssKiB / 1024;
  };
  const [a, b] = [peak(small), peak(large)];
  console.log(`peak RSS: ${a.toFixed(0)} MiB for ${(bytes.length / 1e6).toFixed(0)} MB, ${b.toFixed(0)} MiB for ${((4096 + 8 * chunks.length) / 1e6).toFixed(0)} MB`);
  assert.ok(b < a + 64, `peak RSS grew from ${a.toFixed(0)} to ${b.toFixed(0)} MiB`);
});
