import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { zipSync } from 'fflate';
import { csvRanges, readCsvEvents } from '../../src/evidence/csv.js';
import { readJsonValues } from '../../src/evidence/json.js';
import { lineRanges, readTextBlocks } from '../../src/evidence/text-blocks.js';
import { huntUnit, planHuntUnits } from '../../src/hunt/hunt.js';
import { RuleIndex } from '../../src/hunt/rule-index.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { DATA, listFiles, SPOOR } from '../helpers/paths.js';

function spoor(...args: string[]) {
  const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'spoor-formats-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const RULES = `${DATA}/sigma/rules/windows`;
// Sysmon and Security samples with many detections between them.
const SAMPLES = listFiles(`${DATA}/evtx/attack-samples`, '.evtx').filter((f) => /sysmon|security|4688|lsass|mimikatz/i.test(f)).slice(0, 25);
type D = { rule: { id: string }; record_id: string; timestamp: string; computer: string };
const key = (d: D) => `${d.rule.id} ${d.record_id} ${Date.parse(d.timestamp)} ${d.computer}`;
const detections = (path: string, ...extra: string[]) => {
  const r = spoor('hunt', path, '--format', 'jsonl', '--rules', RULES, ...extra);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as D).map(key).sort();
};

const evtxDir = join(tmp, 'evtx');
spawnSync('mkdir', ['-p', evtxDir]);
for (const [i, f] of SAMPLES.entries()) spawnSync('cp', [f, join(evtxDir, `${i}.evtx`)]);
const fromEvtx = detections(evtxDir);

/** The events of the samples in evtx_dump's shape, as `spoor dump` gives them (checked against evtx_dump in the EVTX tests). */
const dumped = SAMPLES.map((f) => spoor('dump', '--format', 'jsonl', f).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)));

test('the same events read from EVTX and from XML exports give the same detections', () => {
  assert.ok(fromEvtx.length > 20, `${fromEvtx.length} detections`);
  const dir = join(tmp, 'xml');
  spawnSync('mkdir', ['-p', dir]);
  for (const [i, f] of SAMPLES.entries()) {
    // As Event Viewer saves them: one <Events> root, an XML declaration.
    // Windows writes HexInt32 values unpadded (0x1fffff); `dump --format xml` pads them as evtxexport does.
    const xml = spoor('dump', '--format', 'xml', f).stdout.replace(/>0x0+([0-9a-fA-F]+)</g, '>0x$1<');
    writeFileSync(join(dir, `${i}.xml`), `<?xml version="1.0" encoding="utf-8"?>\n<Events>\n${xml}</Events>\n`);
  }
  assert.deepEqual(detections(dir), fromEvtx);
});

test('the same events as JSONL in evtx_dump shape, as one JSON array, and as Winlogbeat documents give the same detections', () => {
  const dir = join(tmp, 'json');
  spawnSync('mkdir', ['-p', dir]);
  dumped.forEach((events, i) => writeFileSync(join(dir, `${i}.jsonl`), events.map((e) => JSON.stringify(e)).join('\n') + '\n'));
  assert.deepEqual(detections(dir), fromEvtx);

  const arrays = join(tmp, 'arrays');
  spawnSync('mkdir', ['-p', arrays]);
  dumped.forEach((events, i) => writeFileSync(join(arrays, `${i}.json`), JSON.stringify(events, null, 2)));
  assert.deepEqual(detections(arrays), fromEvtx);

  // Winlogbeat's shape, written here from its documentation: winlog.* and @timestamp.
  const beats = join(tmp, 'winlogbeat');
  spawnSync('mkdir', ['-p', beats]);
  dumped.forEach((events, i) => writeFileSync(join(beats, `${i}.ndjson`), events.map((e) => {
    const s = e.Event.System;
    return JSON.stringify({
      '@timestamp': s.TimeCreated['#attributes'].SystemTime,
      event: { code: String(typeof s.EventID === 'object' ? s.EventID['#text'] : s.EventID), provider: s.Provider['#attributes'].Name },
      host: { name: s.Computer },
      winlog: { channel: s.Channel, computer_name: s.Computer, event_id: typeof s.EventID === 'object' ? s.EventID['#text'] : s.EventID, provider_name: s.Provider['#attributes'].Name, record_id: s.EventRecordID, event_data: e.Event.EventData ?? undefined, user_data: e.Event.UserData ?? undefined },
    });
  }).join('\n') + '\n'));
  assert.deepEqual(detections(beats), fromEvtx);
});

test('the same events as flat JSON in the OTRF/Mordor shape (Hostname, SourceName, Channel, EventID, @timestamp; no record id) give the same detections, provider rules included', () => {
  // Samples of every log the rules test the provider of (System, Application, Sysmon, Security …).
  const files = listFiles(`${DATA}/evtx/attack-samples`, '.evtx').filter((f) => /system|service|7045|104|applica|defender|wmi|powershell|sysmon/i.test(f)).slice(0, 60);
  const events = files.map((f) => spoor('dump', '--format', 'jsonl', f).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  const id = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>)['#text'] : v);
  const place = (d: D) => `${d.rule.id} ${Date.parse(d.timestamp)} ${d.computer}`;
  const hunt = (dir: string) => {
    const r = spoor('hunt', dir, '--format', 'jsonl', '--rules', RULES);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as D & { rule: { id: string } });
  };
  // The oracle: the same events in evtx_dump's shape with only System and EventData (a flat record has no UserData).
  const shaped = join(tmp, 'otrf-oracle');
  const flat = join(tmp, 'otrf');
  spawnSync('mkdir', ['-p', shaped, flat]);
  events.forEach((list, i) => {
    writeFileSync(join(shaped, `${i}.jsonl`), list.map((e) => JSON.stringify({ Event: { System: e.Event.System, EventData: e.Event.EventData } })).join('\n') + '\n');
    // As OTRF's data sets write them: the system fields under their own names, event fields at the top level.
    writeFileSync(join(flat, `${i}.json`), list.map((e) => {
      const s = e.Event.System;
      return JSON.stringify({ '@timestamp': s.TimeCreated['#attributes'].SystemTime, Hostname: s.Computer, SourceName: s.Provider['#attributes'].Name, Channel: s.Channel, EventID: id(s.EventID), ...(e.Event.EventData ?? {}) });
    }).join('\n') + '\n');
  });
  const expected = hunt(shaped);
  const providerRules = new Set(loadRuleSet([RULES], loadPipeline(DEFAULT_PIPELINE)).rules.filter((r) => JSON.stringify(r.rule.detection).includes('Provider_Name')).map((r) => r.rule.id));
  const byProvider = expected.filter((d) => providerRules.has(d.rule.id));
  assert.ok(byProvider.length >= 3, `${byProvider.length} detections by rules that test Provider_Name`);
  assert.deepEqual(hunt(flat).map(place).sort(), expected.map(place).sort());
});

test('the same events as CSV exports (a column per field) give the same detections', () => {
  const dir = join(tmp, 'csv');
  spawnSync('mkdir', ['-p', dir]);
  const cell = (v: unknown) => {
    const t = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  dumped.forEach((events, i) => {
    const rows = events.map((e) => {
      const s = e.Event.System;
      return { TimeCreated: s.TimeCreated['#attributes'].SystemTime, Channel: s.Channel, EventID: typeof s.EventID === 'object' ? s.EventID['#text'] : s.EventID, Computer: s.Computer, EventRecordID: s.EventRecordID, Provider_Name: s.Provider['#attributes'].Name, ...(e.Event.EventData ?? {}) } as Record<string, unknown>;
    });
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    writeFileSync(join(dir, `${i}.csv`), [columns.map(cell).join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n');
  });
  // A CSV row holds the System fields and EventData, not UserData: the oracle is the same events in
  // evtx_dump shape without UserData, hunted from JSONL.
  const noUserData = join(tmp, 'no-userdata');
  spawnSync('mkdir', ['-p', noUserData]);
  dumped.forEach((events, i) => writeFileSync(join(noUserData, `${i}.jsonl`), events.map((e) => JSON.stringify({ Event: { System: e.Event.System, EventData: e.Event.EventData } })).join('\n') + '\n'));
  const expected = detections(noUserData);
  assert.ok(expected.length > 20);
  assert.deepEqual(detections(dir), expected);
});

test('JSON is read a value at a time: a broken or oversized value is reported by line and skipped, the rest is read', () => {
  const file = join(tmp, 'mixed.jsonl');
  writeFileSync(file, ['{"a": 1}', '{"a": 2, "broken": }', `{"big": "${'x'.repeat(5000)}"}`, '{"a": "é ✓ 😀"}', '[1, 2]'].join('\n') + '\n{"unclosed": ');
  const errors: string[] = [];
  const values = [...readJsonValues(file, (line, m) => errors.push(`${line}: ${m}`), 1000)];
  assert.deepEqual(values, [{ a: 1 }, { a: 'é ✓ 😀' }, [1, 2]]);
  assert.equal(errors.length, 3, errors.join('\n'));
  assert.match(errors[0]!, /^2: invalid JSON/);
  assert.match(errors[1]!, /^3: a JSON value larger than 1000 bytes/);
  assert.match(errors[2]!, /^6: the last JSON value is not closed/);
  // Nesting past the bound is reported and skipped (reading it would overflow the stack), the rest is read.
  const deep = join(tmp, 'deep.jsonl');
  writeFileSync(deep, `{"a": 1}\n${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}\n${'['.repeat(100)}${']'.repeat(100)}\n{"a": 3}\n`);
  const deepErrors: string[] = [];
  const deepValues = [...readJsonValues(deep, (line, m) => deepErrors.push(`${line}: ${m}`))];
  assert.equal(deepValues.length, 3);
  assert.deepEqual([deepValues[0], deepValues[2]], [{ a: 1 }, { a: 3 }]);
  assert.deepEqual(deepErrors, ['2: a JSON value nested 20000 levels deep (at most 100 are read); skipped']);
  // A top-level array yields its items one by one, across blocks of the reader.
  const arr = join(tmp, 'array.json');
  const items = Array.from({ length: 30_000 }, (_, i) => ({ i, s: 'ü'.repeat(i % 50) }));
  writeFileSync(arr, JSON.stringify(items));
  assert.deepEqual([...readJsonValues(arr, (l, m) => assert.fail(`${l}: ${m}`))], items);
});

test('a large JSON Lines file is cut at line starts into parts hunted alone: the same matches as the whole file, errors placed by part', async () => {
  const events = dumped.flat();
  const lines = events.map((e, i) => (i === 700 ? '{"broken": }' : JSON.stringify(e)));
  // Multi-byte text and a long line, so that cuts land inside characters and lines.
  lines.splice(300, 0, JSON.stringify({ Event: { System: { EventID: 1 }, EventData: { CommandLine: `é✓😀 ${'x'.repeat(70_000)}` } } }));
  const file = join(tmp, 'cut.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  const size = readFileSync(file).length;
  const whole = readFileSync(file, 'utf8');
  for (const part of [4096, 65_536, 1_000_000]) {
    const ranges = lineRanges(file, size, part);
    assert.equal(ranges[0]!.start, 0);
    assert.equal(ranges.at(-1)!.end, size);
    const bytes = readFileSync(file);
    ranges.forEach((r, i) => {
      if (i) assert.equal(r.start, ranges[i - 1]!.end);
      if (r.start) assert.equal(bytes[r.start - 1], 10, 'a part starts at a line start');
    });
    assert.equal(ranges.map((r) => [...readTextBlocks(file, r)].join('')).join(''), whole);
  }
  const set = loadRuleSet([RULES], loadPipeline(DEFAULT_PIPELINE));
  const index = new RuleIndex(set.rules);
  const huntAll = async (units: ReturnType<typeof planHuntUnits>) => {
    const matches: string[] = [];
    const diagnostics: string[] = [];
    let count = 0;
    for (const u of units) {
      const r = await huntUnit(u, index);
      count += r.events;
      diagnostics.push(...r.diagnostics);
      for (const m of r.matches) matches.push(`${m.recordId} ${m.rules.join(',')}`);
    }
    return { matches, diagnostics, count };
  };
  const one = planHuntUnits([{ path: file, size }], Infinity);
  const cut = planHuntUnits([{ path: file, size }], 65_536);
  assert.equal(one.length, 1);
  assert.ok(cut.length > 5, `${cut.length} parts`);
  assert.deepEqual(cut.map((u) => u.part), cut.map((_, i) => i));
  const a = await huntAll(one);
  const b = await huntAll(cut);
  assert.ok(a.matches.length > 50, `${a.matches.length} matches`);
  assert.deepEqual(b.matches, a.matches);
  assert.equal(b.count, a.count);
  assert.equal(a.count, events.length);
  assert.match(a.diagnostics.join('\n'), /cut\.jsonl:702: invalid JSON/);
  assert.match(b.diagnostics.join('\n'), /cut\.jsonl: line \d+ of the part from byte \d+: invalid JSON/);
  // A pretty-printed document is never cut.
  const pretty = join(tmp, 'pretty.json');
  writeFileSync(pretty, JSON.stringify(events.slice(0, 300), null, 2));
  assert.equal(planHuntUnits([{ path: pretty, size: readFileSync(pretty).length }], 4096).length, 1);
});

test('a large CSV file is cut between records, never inside a quoted field, into parts hunted alone: the same rows, matches and lines as the whole file', async () => {
  const cell = (v: unknown) => {
    const t = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const rows = dumped.flat().map((e, i) => {
    const s = e.Event.System;
    const data = { ...(e.Event.EventData ?? {}) } as Record<string, unknown>;
    // Quoted fields holding line breaks, commas and quotes, a quote inside an unquoted field.
    if (i % 7 === 0) data.Note = `line one\nline "two", and\r\nthree ${i}`;
    if (i % 11 === 0) data.Raw = `ab"cd ${i}`;
    return { Seq: i, TimeCreated: s.TimeCreated['#attributes'].SystemTime, Channel: s.Channel, EventID: typeof s.EventID === 'object' ? s.EventID['#text'] : s.EventID, Computer: s.Computer, ...data } as Record<string, unknown>;
  });
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const file = join(tmp, 'cut.csv');
  const texts = [columns.map(cell).join(','), ...rows.map((r) => columns.map((c) => (c === 'Raw' && r[c] !== undefined ? String(r[c]) : cell(r[c]))).join(','))];
  // The line each row starts on, as the file is written.
  const startLine: number[] = [];
  let lineNo = 1;
  for (const t of texts) {
    startLine.push(lineNo);
    lineNo += t.split('\n').length;
  }
  writeFileSync(file, '\uFEFF' + texts.join('\n') + '\n');
  const bytes = readFileSync(file);
  // The oracle: csv-parse reading each part alone gives, part after part, the rows it reads from the whole file.
  const options = { relax_column_count: true, relax_quotes: true, skip_empty_lines: true } as const;
  const all = parseCsv(bytes, { ...options, bom: true }) as string[][];
  assert.equal(all.length, rows.length + 1);
  for (const size of [1000, 65_536, 1_000_000]) {
    const ranges = csvRanges(file, bytes.length, size);
    assert.ok(size > bytes.length || ranges.length > 1);
    const parts = ranges.flatMap((r) => parseCsv(bytes.subarray(r.start, r.end), { ...options, bom: r.start === 0 }) as string[][]);
    assert.deepEqual(parts, all, `parts of ${size} bytes`);
  }
  const set = loadRuleSet([RULES], loadPipeline(DEFAULT_PIPELINE));
  const index = new RuleIndex(set.rules);
  const huntAll = async (units: ReturnType<typeof planHuntUnits>) => {
    const matches: string[] = [];
    let count = 0;
    let linesBefore = 0;
    for (const u of units) {
      const r = await huntUnit(u, index);
      count += r.events;
      for (const m of r.matches) {
        const seq = Number((m.event as { Event: { EventData: { Seq: string } } }).Event.EventData.Seq);
        assert.equal(linesBefore + m.line!, startLine[seq + 1], `row ${seq}: the line it starts on`);
        matches.push(`line ${linesBefore + m.line!}: ${m.rules.join(',')}`);
      }
      linesBefore += r.lines ?? 0;
    }
    return { matches, count };
  };
  const one = planHuntUnits([{ path: file, size: bytes.length }], Infinity);
  const cut = planHuntUnits([{ path: file, size: bytes.length }], 65_536);
  assert.equal(one.length, 1);
  assert.ok(cut.length > 5, `${cut.length} parts`);
  const a = await huntAll(one);
  const b = await huntAll(cut);
  assert.ok(a.matches.length > 50, `${a.matches.length} matches`);
  assert.deepEqual(b.matches, a.matches);
  assert.equal(a.count, rows.length);
  assert.equal(b.count, rows.length);
});

test('a CSV row with malformed quotes, or longer than 16 MiB, is reported by its line and skipped; the rows after it are read, on their lines', () => {
  const file = join(tmp, 'bad.csv');
  writeFileSync(file, [
    'TimeCreated,Channel,EventID,CommandLine',
    '2021-01-01T00:00:00Z,Security,1,"ok one"',
    '2021-01-01T00:00:01Z,Security,1,"bad"tail,x',
    '2021-01-01T00:00:02Z,Security,1,"ok, two"',
    `2021-01-01T00:00:03Z,Security,1,"${'y'.repeat(17 * 1024 * 1024)}"`,
    '2021-01-01T00:00:04Z,Security,1,"multi',
    'line"',
    '2021-01-01T00:00:05Z,Security,1,last',
  ].join('\n') + '\n');
  const errors: string[] = [];
  const counted: { lines?: number } = {};
  const rows = [...readCsvEvents(file, (line, m) => errors.push(`${line}: ${m}`), undefined, undefined, counted)].map((r) => `${r.line} ${r.view.get('CommandLine')}`);
  assert.deepEqual(rows, ['2 ok one', '4 ok, two', '6 multi\nline', '8 last']);
  assert.equal(errors.length, 2);
  assert.match(errors[0]!, /^3: malformed quotes; row skipped/);
  assert.match(errors[1]!, /^5: a record longer than 16 MiB at byte \d+; skipped/);
  assert.equal(counted.lines, 8);
});

test('an unknown file in the evidence is listed and skipped, never fatal', () => {
  const dir = join(tmp, 'mixed');
  spawnSync('mkdir', ['-p', dir]);
  spawnSync('cp', [SAMPLES[0]!, join(dir, 'a.evtx')]);
  writeFileSync(join(dir, 'notes.csv'), Buffer.from([0, 1, 2, 3, 0xff, 0xfe]));
  writeFileSync(join(dir, 'garbage.json'), '{{{{');
  const r = spoor('hunt', dir, '--format', 'jsonl', '--rules', RULES);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /garbage\.json:1: the last JSON value is not closed/);
});

test('a zip archive of evidence is hunted entry by entry, named archive!entry, with the same detections', () => {
  const archive = join(tmp, 'collection.zip');
  writeFileSync(archive, zipSync(Object.fromEntries(SAMPLES.map((f, i) => [`host1/logs/${i}.evtx`, readFileSync(f)]))));
  const r = spoor('hunt', archive, '--format', 'jsonl', '--rules', RULES);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as D & { file: string });
  assert.deepEqual(lines.map(key).sort(), fromEvtx);
  assert.ok(lines.every((d) => d.file.startsWith(`${archive}!host1/logs/`)), lines[0]?.file);
});

test('a zip bomb or an entry escaping the folder is reported and stopped; the rest of the evidence is hunted', () => {
  const dir = join(tmp, 'hostile');
  spawnSync('mkdir', ['-p', dir]);
  spawnSync('cp', [SAMPLES[0]!, join(dir, 'good.evtx')]);
  // 256 MiB of zeros deflate to about 250 KiB: over the ratio limit.
  writeFileSync(join(dir, 'bomb.zip'), zipSync({ 'zeros.json': new Uint8Array(256 * 1024 * 1024) }, { level: 9 }));
  writeFileSync(join(dir, 'escape.zip'), zipSync({ '../../evil.evtx': readFileSync(SAMPLES[0]!) }));
  const r = spoor('hunt', dir, '--format', 'jsonl', '--rules', RULES);
  assert.match(r.stderr, /bomb\.zip: compressed more than 200 times: a zip bomb; unpacking stopped/);
  assert.match(r.stderr, /escape\.zip!\.\.\/\.\.\/evil\.evtx: a name that would leave the folder; skipped/);
  const good = detections(join(dir, 'good.evtx'));
  assert.deepEqual(r.stdout.trim().split('\n').filter(Boolean).map((l) => key(JSON.parse(l))).sort(), good);
});
