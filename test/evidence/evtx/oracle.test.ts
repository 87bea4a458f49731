import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { readEvtxFile } from '../../../src/evidence/evtx/index.js';
import { type EventFields, fieldsFromJson, fieldsFromXml } from '../../helpers/event-fields.js';
import { DATA, listFiles } from '../../helpers/paths.js';

/**
 * Record-by-record comparison with the two reference parsers from Debian: libevtx's `evtxexport`
 * and python-evtx's `evtx_dump.py`. Our side is the JSON event model (what hunting matches on).
 *
 * Where the oracles disagree with each other: evtxexport is followed. It renders what Event Viewer
 * renders (e.g. it drops attributes whose optional substitution is empty, python-evtx prints them
 * as ""), and it is the faster, maintained C implementation. The normalisation in event-fields.ts
 * removes only formatting differences (hex padding, GUID case and braces, time precision).
 */

interface Run {
  code: number | null;
  stdout: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const parts: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => parts.push(b));
    child.on('error', () => resolve({ code: -1, stdout: '' }));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(parts).toString('utf8') }));
  });
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

const FIELDS: (keyof EventFields)[] = ['recordId', 'time', 'eventId', 'provider', 'channel', 'computer', 'data'];

interface Comparison {
  files: number;
  unreadable: string[];
  records: number;
  equal: number;
  /** Records we read past a corrupt one that the oracle lists only among its recovered records. */
  recovered: number;
  mismatches: string[];
}

/**
 * Compares our records with an oracle's, file by file. `recoveredArgs`, when the oracle has such a
 * mode, lists records it recovers outside its normal listing: a record we read that the normal
 * listing lacks must be one of those (equal field by field), or it counts as a mismatch.
 */
async function compareWith(oracle: string, argsFor: (file: string) => string[], recoveredArgs?: (file: string) => string[]): Promise<Comparison> {
  const files = [...listFiles(`${DATA}/evtx`, '.evtx')];
  const result: Comparison = { files: 0, unreadable: [], records: 0, equal: 0, recovered: 0, mismatches: [] };
  const runs = await mapLimit(files, availableParallelism(), (f) => run(oracle, argsFor(f)));
  for (const [i, file] of files.entries()) {
    const name = relative(DATA, file);
    const r = runs[i]!;
    if (r.code !== 0) {
      result.unreadable.push(name);
      continue;
    }
    result.files++;
    const expected = fieldsFromXml(r.stdout);
    const ours = [...readEvtxFile(file, { render: 'json' })].map((rec) => fieldsFromJson(rec.event));
    const byId = new Map(ours.map((f) => [f.recordId, f]));
    const matched = new Set<string>();
    for (const want of expected) {
      result.records++;
      const got = byId.get(want.recordId);
      if (!got) {
        result.mismatches.push(`${name}: record ${want.recordId} missing`);
        continue;
      }
      matched.add(want.recordId);
      const bad = differences(got, want);
      if (bad.length === 0) result.equal++;
      else result.mismatches.push(`${name}: record ${want.recordId}: ${bad.join('; ')}`);
    }
    const extra = ours.filter((f) => !matched.has(f.recordId));
    if (extra.length === 0) continue;
    const recovered = recoveredArgs ? fieldsFromXml((await run(oracle, recoveredArgs(file))).stdout) : [];
    for (const got of extra) {
      if (recovered.some((want) => want.recordId === got.recordId && differences(got, want).length === 0)) result.recovered++;
      else result.mismatches.push(`${name}: record ${got.recordId} read by us is not in ${oracle}'s output`);
    }
  }
  return result;
}

/** Microseconds since the epoch of a normalised time (YYYY-MM-DDTHH:MM:SS.ffffff). */
function micros(t: string): number {
  return Date.parse(t.slice(0, 19) + 'Z') * 1000 + Number(t.slice(20, 26) || 0);
}

/**
 * python-evtx converts FILETIME through floating point and can land 1 µs off the exact value that
 * evtxexport and we compute from the 100 ns ticks; for it, times 1 µs apart count as equal.
 */
let timeToleranceUs = 0;

function sameField(k: keyof EventFields, a: EventFields[keyof EventFields], b: EventFields[keyof EventFields]): boolean {
  if (isDeepStrictEqual(a, b)) return true;
  return k === 'time' && timeToleranceUs > 0 && Math.abs(micros(a as string) - micros(b as string)) <= timeToleranceUs;
}

function differences(got: EventFields, want: EventFields): string[] {
  return FIELDS.filter((k) => !sameField(k, got[k], want[k]))
    .map((k) => `${k}: ours ${JSON.stringify(got[k])} vs ${JSON.stringify(want[k])}`);
}

function report(oracle: string, c: Comparison): void {
  console.log(`${oracle}: ${c.files} files read (${c.unreadable.length} it cannot read: ${c.unreadable.join(', ') || 'none'}); ` +
    `${c.equal}/${c.records} records equal; ${c.recovered} more records read past corruption, each equal to one the oracle recovers`);
  for (const m of c.mismatches.slice(0, Number(process.env.ORACLE_SHOW ?? 40))) console.log(`  ${m.slice(0, 600)}`);
  if (c.mismatches.length > Number(process.env.ORACLE_SHOW ?? 40)) console.log(`  … more`);
}

test('every record equals evtxexport (libevtx) field by field', { timeout: 600_000 }, async () => {
  const c = await compareWith('evtxexport', (f) => ['-f', 'xml', f], (f) => ['-f', 'xml', '-m', 'recovered', f]);
  report('evtxexport', c);
  assert.ok(c.files > 250, 'evtxexport read too few files; is libevtx-utils installed?');
  assert.ok(c.records > 8000);
  assert.deepEqual(c.mismatches, []);
});

test('every record equals python-evtx field by field', { timeout: 1_800_000 }, async () => {
  timeToleranceUs = 1;
  const c = await compareWith('evtx_dump.py', (f) => [f]);
  timeToleranceUs = 0;
  report('python-evtx', c);
  assert.ok(c.files > 250, 'evtx_dump.py read too few files; is python3-evtx installed?');
  assert.deepEqual(c.mismatches, []);
});

/** Our XML and evtxexport's, event by event, as text. evtxexport leaves < and > in values unescaped. */
function xmlEvents(text: string): string[] {
  return text.replace(/^evtxexport[^\n]*\n/, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    .split(/\n\s*\n/).map((s) => s.trim()).filter((s) => s.startsWith('<Event'));
}

test('spoor dump --format xml prints what evtxexport -f xml prints', { timeout: 600_000 }, async () => {
  const files = listFiles(`${DATA}/evtx`, '.evtx');
  const runs = await mapLimit(files, availableParallelism(), (f) => run('evtxexport', ['-f', 'xml', f]));
  let events = 0;
  const differ: string[] = [];
  for (const [i, file] of files.entries()) {
    if (runs[i]!.code !== 0) continue;
    const want = xmlEvents(runs[i]!.stdout);
    const ours = new Map<string, string>();
    // Keyed by the EventRecordID in the XML, which can differ from the record header's identifier.
    const idOf = (xml: string) => /<EventRecordID>(\d+)</.exec(xml)?.[1] ?? '';
    for (const rec of readEvtxFile(file, { render: 'xml' })) {
      // evtxexport leaves out the <RenderingInfo> that some records carry after their EventData
      // (two records of the Shell-Core sample); we keep it, so it is removed before comparing.
      const xml = xmlEvents(rec.xml!.replace(/\n  <RenderingInfo[^]*?<\/RenderingInfo>/, ''))[0] ?? '';
      ours.set(idOf(xml), xml);
    }
    for (const w of want) {
      events++;
      const id = idOf(w);
      if (ours.get(id) !== w) {
        if (process.env.ORACLE_DEBUG && differ.length === 0) console.log(JSON.stringify(w), JSON.stringify(ours.get(id)));
        differ.push(`${relative(DATA, file)}: record ${id}`);
      }
    }
  }
  console.log(`xml: ${events - differ.length}/${events} events identical to evtxexport's`);
  for (const d of differ.slice(0, 20)) console.log(`  differs: ${d}`);
  assert.ok(events > 8000);
  assert.deepEqual(differ, []);
});
