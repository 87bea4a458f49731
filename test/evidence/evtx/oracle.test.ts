import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { readEvtxFile } from '../../../src/evidence/evtx/index.js';
import { type EventFields, fieldsFromJson, fieldsFromXml, norm } from '../../helpers/event-fields.js';
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
  /** Records we read past corruption that an oracle without a recovery mode does not list. */
  unverified: number;
  /** Records the oracle prints from a file where we found records whose size does not match their copy. */
  corrupt: number;
  /** Records cut short that we read as they stand (as evtx_dump does) and the oracle leaves out. */
  torn: number;
  mismatches: string[];
}

/** How one oracle is run and which of its formatting habits the comparison forgives. */
interface Oracle {
  name: string;
  args: (file: string) => string[];
  /** Arguments listing the records it recovers outside its normal listing, when it has such a mode. */
  recoveredArgs?: (file: string) => string[];
  /** Times this many microseconds apart count as equal. */
  timeToleranceUs: number;
  /** Whether an oracle's value, different as text from ours, is the same value in another notation. */
  sameValue: (ours: string, theirs: string) => boolean;
  /** It prints elements whose optional value is NULL (as empty), which Event Viewer leaves out. */
  keepsNullElements: boolean;
  /** It also prints records whose size does not match their copy of it, which are corrupt. */
  readsCorruptRecords: boolean;
}

const EVTXEXPORT: Oracle = {
  name: 'evtxexport',
  args: (f) => ['-f', 'xml', f],
  recoveredArgs: (f) => ['-f', 'xml', '-m', 'recovered', f],
  timeToleranceUs: 0,
  sameValue: () => false,
  keepsNullElements: false,
  readsCorruptRecords: false,
};

/**
 * python-evtx's habits: it converts FILETIME through floating point (up to 2 µs off the exact
 * value that evtxexport and we compute from the 100 ns ticks), prints booleans as True/False and
 * binary as base64, drops control characters from strings, renders a string-array substitution as
 * one text of <string> items (in its own order), prints elements whose optional value is NULL, and
 * prints records whose size does not match their copy (we report and skip those, as evtxexport does).
 * It has no recovery mode: records we read past corruption are checked against evtxexport's.
 */
const PYTHON_EVTX: Oracle = {
  name: 'evtx_dump.py',
  args: (f) => [f],
  timeToleranceUs: 2,
  sameValue: (ours, theirs) => {
    if (ours.toLowerCase() === theirs.toLowerCase() && /^(true|false)$/i.test(ours)) return true;
    if (/^[0-9A-F]+$/.test(ours) && /^[A-Za-z0-9+/]+=*$/.test(theirs)) return Buffer.from(theirs, 'base64').toString('hex').toUpperCase() === ours;
    if (TIME_VALUE.test(ours) && TIME_VALUE.test(theirs)) return Math.abs(micros(ours) - micros(theirs)) <= 2;
    // eslint-disable-next-line no-control-regex
    return ours.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '') === theirs;
  },
  keepsNullElements: true,
  readsCorruptRecords: true,
};

/** A time value as norm() writes it. */
const TIME_VALUE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

/** Values python-evtx prints as <string> lists that do not match ours even as sets. */
let stringListsSetAside = 0;

/** python-evtx's text of <string> items for a string array, as the items. */
const isStringList = (v: string) => /^(<string>[^]*?<\/string>\s*)+$/.test(v);

function expandStringItems(values: readonly string[]): string[] {
  return values.flatMap((v) => (isStringList(v) ? [...v.matchAll(/<string>([^]*?)<\/string>/g)].map((m) => norm(m[1]!)) : [v]));
}

/**
 * Compares our records with an oracle's, file by file. A record we read that the oracle's normal
 * listing lacks must be among the records it recovers (equal field by field), else it is a mismatch;
 * for an oracle without a recovery mode such records are only counted.
 */
async function compareWith(oracle: Oracle): Promise<Comparison> {
  const files = [...listFiles(`${DATA}/evtx`, '.evtx')];
  const result: Comparison = { files: 0, unreadable: [], records: 0, equal: 0, recovered: 0, unverified: 0, corrupt: 0, torn: 0, mismatches: [] };
  const runs = await mapLimit(files, availableParallelism(), (f) => run(oracle.name, oracle.args(f)));
  for (const [i, file] of files.entries()) {
    const name = relative(DATA, file);
    const r = runs[i]!;
    if (r.code !== 0) {
      result.unreadable.push(name);
      continue;
    }
    result.files++;
    const expected = fieldsFromXml(r.stdout);
    let corruptRecords = 0;
    // Records cut short (their size's copy not written) that we read as they stand, as evtx_dump does.
    const torn = new Set<string>();
    const ours = [...readEvtxFile(file, { render: 'event', onDiagnostic: (d) => {
      if (!/does not match its copy/.test(d.message)) return;
      corruptRecords++;
      const id = /^record (\d+): /.exec(d.message)?.[1];
      if (id) torn.add(id);
    } })].map((rec) => ({ ...fieldsFromJson(rec.event), header: String(rec.recordId) }));
    const byId = new Map(ours.map((f) => [f.recordId, f]));
    const matched = new Set<string>();
    for (const want of expected) {
      result.records++;
      const got = byId.get(want.recordId);
      if (!got) {
        if (oracle.readsCorruptRecords && corruptRecords > 0) result.corrupt++;
        else result.mismatches.push(`${name}: record ${want.recordId} missing`);
        continue;
      }
      matched.add(want.recordId);
      const bad = differences(oracle, got, want);
      if (bad.length === 0) result.equal++;
      else result.mismatches.push(`${name}: record ${want.recordId}: ${bad.join('; ')}`);
    }
    const extra = ours.filter((f) => !matched.has(f.recordId));
    if (extra.length === 0) continue;
    if (!oracle.recoveredArgs) {
      result.unverified += extra.filter((f) => !torn.has(f.header)).length;
      result.torn += extra.filter((f) => torn.has(f.header)).length;
      continue;
    }
    const recovered = fieldsFromXml((await run(oracle.name, oracle.recoveredArgs(file))).stdout);
    for (const got of extra) {
      if (torn.has(got.header)) result.torn++;
      else if (recovered.some((want) => want.recordId === got.recordId && differences(oracle, got, want).length === 0)) result.recovered++;
      else result.mismatches.push(`${name}: record ${got.recordId} read by us is not in ${oracle.name}'s output`);
    }
  }
  return result;
}

/** Microseconds since the epoch of a normalised time (YYYY-MM-DDTHH:MM:SS.ffffff). */
function micros(t: string): number {
  return Date.parse(t.slice(0, 19) + 'Z') * 1000 + Number(t.slice(20, 26) || 0);
}

function sameData(oracle: Oracle, ours: Record<string, string[]>, theirs: Record<string, string[]>): boolean {
  const keys = new Set([...Object.keys(ours), ...Object.keys(theirs)]);
  for (const k of keys) {
    const a = ours[k] ?? [];
    const b = theirs[k] ?? [];
    if (isDeepStrictEqual(a, b)) continue;
    if (oracle.keepsNullElements && a.length === 0 && b.every((v) => v === '')) continue;
    // Elements whose optional value is NULL we print empty, as evtx_dump does; this oracle leaves them out.
    if (!oracle.keepsNullElements && b.length === 0 && a.every((v) => v === '')) continue;
    // A <Data> name given twice (4648's LogonGuid) is one key in evtx_dump's JSON: the last value.
    if (a.length === 1 && b.length > 1 && a[0] === b[b.length - 1]) continue;
    if (a.length === b.length && a.every((v, i) => v === b[i] || oracle.sameValue(v, b[i]!))) continue;
    // python-evtx prints string arrays as <string> items in an order of its own, and for some records
    // with items that are not in the array (2-vss_7-System.evtx record 68: 13,'',13,60,… where
    // evtxexport and we read '','','','',13,60,…). Equal as sets passes; else it is set aside, counted,
    // and left to the evtxexport comparison.
    if (b.some(isStringList)) {
      const items = expandStringItems(b);
      const sorted = [...a].sort();
      items.sort();
      if (!(items.length === sorted.length && sorted.every((v, i) => v === items[i] || oracle.sameValue(v, items[i]!)))) stringListsSetAside++;
      continue;
    }
    return false;
  }
  return true;
}

function sameField(oracle: Oracle, k: keyof EventFields, a: EventFields[keyof EventFields], b: EventFields[keyof EventFields]): boolean {
  if (isDeepStrictEqual(a, b)) return true;
  if (k === 'time') return Math.abs(micros(a as string) - micros(b as string)) <= oracle.timeToleranceUs;
  if (k === 'data') return sameData(oracle, a as Record<string, string[]>, b as Record<string, string[]>);
  return false;
}

function differences(oracle: Oracle, got: EventFields, want: EventFields): string[] {
  return FIELDS.filter((k) => !sameField(oracle, k, got[k], want[k]))
    .map((k) => `${k}: ours ${JSON.stringify(got[k])} vs ${JSON.stringify(want[k])}`);
}

function report(oracle: string, c: Comparison): void {
  console.log(`${oracle}: ${c.files} files read (${c.unreadable.length} it cannot read: ${c.unreadable.join(', ') || 'none'}); ` +
    `${c.equal}/${c.records} records equal; ${c.recovered} more records read past corruption, each equal to one the oracle recovers` +
    (c.unverified ? `; ${c.unverified} more read past corruption that it does not list` : '') +
    (c.corrupt ? `; ${c.corrupt} it prints from records we skip as corrupt` : '') +
    (c.torn ? `; ${c.torn} cut short that we read as they stand (as evtx_dump does) and it leaves out` : '') +
    (stringListsSetAside ? `; ${stringListsSetAside} of its <string> lists set aside` : ''));
  for (const m of c.mismatches.slice(0, Number(process.env.ORACLE_SHOW ?? 40))) console.log(`  ${m.slice(0, 600)}`);
  if (c.mismatches.length > Number(process.env.ORACLE_SHOW ?? 40)) console.log(`  … more`);
}

test('every record equals evtxexport (libevtx) field by field', { timeout: 600_000 }, async () => {
  const c = await compareWith(EVTXEXPORT);
  report('evtxexport', c);
  assert.ok(c.files > 250, 'evtxexport read too few files; is libevtx-utils installed?');
  assert.ok(c.records > 8000);
  assert.deepEqual(c.mismatches, []);
});

test('every record equals python-evtx field by field', { timeout: 1_800_000 }, async () => {
  const c = await compareWith(PYTHON_EVTX);
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
      const xml = xmlEvents(rec.text!.replace(/\n  <RenderingInfo[^]*?<\/RenderingInfo>/, ''))[0] ?? '';
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
