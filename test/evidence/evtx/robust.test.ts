import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { type EvtxDiagnostic, type EvtxFileSummary, readEvtxFile, type RenderMode } from '../../../src/evidence/evtx/index.js';
import { DATA, listFiles } from '../../helpers/paths.js';

const SAMPLES = `${DATA}/evtx/edge-cases/samples`;
const tmp = mkdtempSync(join(tmpdir(), 'spoor-fuzz-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function readAll(file: string, render: RenderMode) {
  const diagnostics: EvtxDiagnostic[] = [];
  const it = readEvtxFile(file, { render, onDiagnostic: (d) => diagnostics.push(d) });
  let records = 0;
  for (;;) {
    const n = it.next();
    if (n.done) return { records, diagnostics, summary: n.value as EvtxFileSummary };
    records++;
  }
}

test('every edge-case sample is read without an exception, with its valid records out', () => {
  for (const file of listFiles(SAMPLES, '.evtx')) {
    for (const render of ['event', 'json', 'xml'] as const) {
      const r = readAll(file, render);
      assert.ok(r.summary.readable, `${basename(file)} should be readable`);
      assert.ok(r.records > 0, `${basename(file)} gave no records`);
      for (const d of r.diagnostics) {
        assert.equal(d.file, file);
        assert.ok(d.offset >= 0 && d.message.length > 0);
      }
    }
  }
});

test('a corrupt chunk is reported with its index and offset and the chunks after it are still read', () => {
  // sysmon.evtx has chunks whose signature is overwritten.
  const r = readAll(`${SAMPLES}/sysmon.evtx`, 'json');
  const bad = r.diagnostics.filter((d) => /bad chunk signature/.test(d.message));
  assert.ok(bad.length > 0);
  for (const d of bad) assert.equal(d.offset, 4096 + d.chunk * 65536);
  const lastBad = Math.max(...bad.map((d) => d.chunk));
  assert.ok(r.summary.chunks > lastBad, 'chunks after the corrupt ones were read');
  assert.ok(r.records > 0);
});

test('a record whose size does not match its copy is skipped and the rest of its chunk is read', () => {
  const r = readAll(`${SAMPLES}/sample-with-zero-data-size-event.evtx`, 'json');
  assert.ok(r.diagnostics.some((d) => d.severity === 'error' && /record size/.test(d.message)));
  assert.ok(r.records > 400);
});

test('a file that is not EVTX is reported as unreadable, not thrown', () => {
  const r = readAll(`${SAMPLES}/binxml.dat`, 'json');
  assert.equal(r.summary.readable, false);
  assert.equal(r.records, 0);
  assert.match(r.diagnostics[0]!.message, /not an EVTX file/);
  const missing = readAll(join(tmp, 'does-not-exist.evtx'), 'json');
  assert.equal(missing.summary.readable, false);
});

// ---- property-based fuzzing: mutated real files ----

const BASES = [
  `${SAMPLES}/Security_short_selected.evtx`,
  `${SAMPLES}/MSExchange_Management_wec.evtx`,
  `${SAMPLES}/new-user-security.evtx`,
  listFiles(`${DATA}/sigma/regression_data`, '.evtx')[0]!,
].map((f) => readFileSync(f));

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'huge'; at: number; value: number }
  | { kind: 'splice'; from: number; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('huge' as const), at: fc.nat(), value: fc.constantFrom(0xffffffff, 0x7fffffff, 0x10000, 0xffff, 0, 1) }),
  fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), at: fc.nat(), length: fc.integer({ min: 1, max: 4096 }) }),
);

/** Mutations aim mostly at the first chunk's records, where the binary XML is. */
function apply(base: Buffer, mutations: Mutation[], donor: Buffer): Buffer {
  let buf = Buffer.from(base);
  const pick = (n: number) => (n % 3 === 0 ? n % buf.length : 4096 + (n % Math.max(1, buf.length - 4096)));
  for (const m of mutations) {
    if (buf.length === 0) break;
    if (m.kind === 'flip') {
      const i = pick(m.at);
      buf[i] = buf[i]! ^ (1 << m.bit);
    } else if (m.kind === 'truncate') buf = buf.subarray(0, m.at % buf.length);
    else if (m.kind === 'huge') {
      const i = Math.min(pick(m.at), buf.length - 4);
      if (i >= 0) buf.writeUInt32LE(m.value, i);
    } else {
      const src = m.from % donor.length;
      donor.copy(buf, pick(m.at), src, Math.min(src + m.length, donor.length));
    }
  }
  return buf;
}

test('thousands of mutated files: no exception escapes, no hang, bounded memory', { timeout: 600_000 }, () => {
  let runs = 0;
  let slowest = 0;
  const rssLimit = 1024 * 1024 * 1024;
  fc.assert(
    fc.property(fc.nat(BASES.length - 1), fc.nat(BASES.length - 1), fc.array(mutation, { minLength: 1, maxLength: 8 }), fc.constantFrom<RenderMode>('event', 'json', 'xml'), (b, d, ms, render) => {
      const file = join(tmp, `m${runs++ % 8}.evtx`);
      writeFileSync(file, apply(BASES[b]!, ms, BASES[d]!));
      const started = process.hrtime.bigint();
      const r = readAll(file, render); // must not throw
      const ms_ = Number(process.hrtime.bigint() - started) / 1e6;
      slowest = Math.max(slowest, ms_);
      assert.ok(r.summary.readable || r.records === 0);
      assert.ok(process.memoryUsage().rss < rssLimit, 'memory stays bounded');
    }),
    { numRuns: 3000, seed: 20261128 },
  );
  console.log(`fuzz: ${runs} mutated files read; slowest ${slowest.toFixed(1)} ms`);
  // A hang would stop the test at its timeout; the slowest single file is printed for review.
});
