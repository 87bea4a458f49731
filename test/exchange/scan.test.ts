import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { normaliseSector } from '../../src/attribution/victimology.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { levelRank } from '../../src/hunt/rule-selection.js';
import type { GroundTruth } from '../../src/demo/exchange-server.js';
import { DATA, ROOT, SPOOR } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-scan-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const compromised = join(tmp, 'compromised');
const clean = join(tmp, 'clean');

function spoor(...args: string[]) {
  const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Found {
  rule: { id: string; title: string; level: string };
  file: string;
  record_id: string;
  channel: string;
  matched: Record<string, unknown>;
}

const YARA = `${DATA}/ioc/signature-base/yara`;
const CHIRP = `${DATA}/ioc/chirp/AA21062A.yaml`;
const scanArgs = (dir: string) => ['exchange', 'scan', dir, '--format', 'jsonl', '--yara', YARA, '--ioc', CHIRP];
const parse = (stdout: string): Found[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Found);

before(() => {
  for (const [dir, intrusion] of [[compromised, 'proxylogon,proxyshell,proxynotshell'], [clean, 'none']] as const) {
    const g = spoor('demo', 'generate', dir, '--size', '4MB', '--intrusion', intrusion, '--seed', '7');
    assert.equal(g.code, 0, g.stderr);
  }
});

test('exchange scan finds every planted step of the ground truth, at medium or above, where the truth says it is', () => {
  const truth = JSON.parse(readFileSync(join(compromised, 'ground-truth.json'), 'utf8')) as GroundTruth;
  assert.deepEqual(truth.intrusions, ['proxylogon', 'proxyshell', 'proxynotshell']);
  assert.ok(truth.steps.length >= 10);
  const r = spoor(...scanArgs(compromised));
  assert.equal(r.code, 0, r.stderr);
  const found = parse(r.stdout).filter((d) => levelRank(d.rule.level) >= levelRank('medium'));
  const missed: string[] = [];
  // Mail read with stolen credentials looks like any other: spoor mail-access finds it (test/mail-access).
  for (const step of truth.steps.filter((s) => s.foundBy !== 'mail-access')) {
    for (const e of step.evidence) {
      const file = join(compromised, e.file);
      const at = 'line' in e ? String(e.line) : 'record' in e ? String(e.record) : undefined;
      const hit = found.some((d) => d.file === file && (at === undefined ? d.channel === 'File' : d.record_id === at));
      if (!hit) missed.push(`${step.id}: ${e.file}${at ? `:${at}` : ''}`);
    }
  }
  assert.deepEqual(missed, []);
  // The CVEs the steps exploit are named by the rules that found them.
  const tags = new Set(parse(r.stdout).flatMap((d) => (d as unknown as { rule: { tags: string[] } }).rule.tags));
  for (const cve of truth.steps.flatMap((s) => s.cves)) assert.ok(tags.has(`cve.${cve.slice(4).toLowerCase()}`), cve);
  // The build in the logs' headers, and its exposure.
  assert.match(r.stderr, /Exchange build 15\.1\.2176\.2: Exchange Server 2016 CU19/);
  assert.match(r.stderr, /CVE-2021-26855 +fixed by Mar21SU/);
  // The planted web shells: YARA (signature-base's HAFNIUM rule) and the unexpected-page check.
  const shell = truth.steps.find((s) => s.id === 'proxylogon-oab-vdir')!.evidence.find((e) => !('line' in e) && !('record' in e))!;
  const onShell = parse(r.stdout).filter((d) => d.file === join(compromised, shell.file)).map((d) => d.rule.title);
  assert.ok(onShell.includes('YARA: APT_WEBSHELL_HAFNIUM_Chopper_WebShell'), onShell.join(', '));
  assert.ok(onShell.includes('Unexpected page in an Exchange web folder'));
  // The leased VPS addresses CISA published (CHIRP, AA21-062A) are found in the requests that came from them.
  const ips = new Set(parse(r.stdout).filter((d) => d.rule.id === 'spoor-ioc-ip').map((d) => d.matched.indicator));
  assert.deepEqual([...ips].sort(), ['104.140.114.110', '157.230.221.198', '167.99.168.251', '5.254.43.18']);
});

test('exchange scan of a clean server (same traffic, no intrusion) finds nothing above low, with SigmaHQ web and Exchange rules too', () => {
  const r = spoor(...scanArgs(clean), '--rules', `${DATA}/sigma/rules/web`, '--rules', `${DATA}/sigma/rules-emerging-threats`, '--rules', `${DATA}/sigma/rules/windows/builtin/msexchange`);
  assert.equal(r.code, 0, r.stderr);
  const found = parse(r.stdout);
  const above = found.filter((d) => levelRank(d.rule.level) > levelRank('low') && d.rule.id !== 'spoor-exchange-exposure');
  assert.deepEqual(above.map((d) => `${d.rule.title} ${d.file}:${d.record_id}`), []);
  // What is left: the administrator's URL change, which the ProxyLogon check mentions at low.
  assert.ok(found.some((d) => d.rule.title === 'Exchange Virtual Directory Changed Through ECP'));
  // The server is unpatched all the same: its exposure is reported.
  assert.ok(found.some((d) => d.rule.id === 'spoor-exchange-exposure'));
});

test('exchange scan --build overrides the logs; a bad --build or a missing folder is a usage error', () => {
  const r = spoor('exchange', 'scan', clean, '--build', '15.1.2176.9', '--format', 'jsonl', '--no-attribute');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Exchange build 15\.1\.2176\.9: Exchange Server 2016 CU19 Mar21SU/);
  assert.doesNotMatch(r.stderr, /CVE-2021-26855/);
  assert.equal(spoor('exchange', 'scan', clean, '--build', 'nonsense').code, 2);
  assert.equal(spoor('exchange', 'scan', join(tmp, 'nowhere')).code, 2);
  // --level and --from/--to hold for the scan's own findings (files, YARA, exposure) as for rules.
  const high = parse(spoor('exchange', 'scan', compromised, '--format', 'jsonl', '--level', 'high').stdout);
  assert.ok(high.length > 5 && high.every((d) => levelRank(d.rule.level) >= levelRank('high')));
  assert.ok(high.some((d) => d.channel === 'File'));
  const early = parse(spoor('exchange', 'scan', compromised, '--format', 'jsonl', '--to', '2021-03-01T12:00:00Z').stdout);
  assert.ok(early.every((d) => Date.parse((d as unknown as { timestamp: string }).timestamp) <= Date.parse('2021-03-01T12:00:00Z')));
});

test("YARA matches over the web folders are the yara tool's (libyara from Debian as the oracle)", () => {
  // Rule files that use no LOKI/THOR external variables, so both tools see the same rules.
  const extra = ['apt_hafnium.yar', 'apt_webshell_chinachopper.yar', 'expl_proxyshell.yar', 'gen_webshells.yar', 'webshell_regeorg.yar'].map((f) => `${YARA}/${f}`);
  // Spoor's own rules always run; the oracle runs them too.
  const ruleFiles = [join(ROOT, 'rules/yara/spoor_exchange_webshells.yar'), ...extra];
  const r = spoor('exchange', 'scan', compromised, '--format', 'jsonl', ...extra.flatMap((f) => ['--yara', f]));
  assert.equal(r.code, 0, r.stderr);
  const ours = new Set(parse(r.stdout).filter((d) => d.rule.id.startsWith('spoor-yara-')).map((d) => `${d.matched.yara_rule} ${d.matched.path}`));
  const webFiles = (spawnSync('find', [join(compromised, 'inetpub/wwwroot'), join(compromised, 'Program Files/Microsoft/Exchange Server/V15/FrontEnd'), '-type', 'f'], { encoding: 'utf8' }).stdout).trim().split('\n');
  const theirs = new Set<string>();
  // yara takes one target a call (the arguments before it are rule files).
  for (const rules of ruleFiles) {
    for (const file of webFiles) {
      const y = spawnSync('yara', ['-w', rules, file], { encoding: 'utf8' });
      assert.equal(y.status, 0, y.stderr);
      for (const line of y.stdout.trim().split('\n').filter(Boolean)) theirs.add(`${line.split(' ')[0]} ${file.slice(compromised.length + 1)}`);
    }
  }
  assert.ok(theirs.size >= 3, [...theirs].join('\n'));
  assert.deepEqual([...ours].sort(), [...theirs].sort());
});

test('demo generate: the same seed writes the same folder; a folder it wrote is written afresh, any other is refused', () => {
  const again = join(tmp, 'again');
  assert.equal(spoor('demo', 'generate', again, '--size', '1MB', '--seed', '3').code, 0);
  const first = readFileSync(join(again, 'ground-truth.json'), 'utf8');
  const iis = (spawnSync('find', [join(again, 'inetpub/logs'), '-type', 'f'], { encoding: 'utf8' }).stdout).trim().split('\n').sort();
  const firstLog = readFileSync(iis[0]!, 'utf8');
  const r = spoor('demo', 'generate', again, '--size', '1MB', '--seed', '3');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(again, 'ground-truth.json'), 'utf8'), first);
  assert.equal(readFileSync(iis[0]!, 'utf8'), firstLog);
  const other = join(tmp, 'other');
  spawnSync('mkdir', ['-p', other]);
  spawnSync('touch', [join(other, 'keep.txt')]);
  assert.equal(spoor('demo', 'generate', other).code, 2);
  assert.ok(readFileSync(join(other, 'keep.txt'), 'utf8') === '');
});

test("the README's first command, as written there, ends with a ranked attribution: HAFNIUM (Silk Typhoon) first, on its CVEs, web shell, VPS and the analyst's sector, offline", () => {
  // The first shell block of the README: npm ci && npx spoor demo generate … && npx spoor exchange scan … --sector …
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const first = /```sh\n(.*?)\n```/s.exec(readme)![1]!.trim();
  const steps = first.split('&&').map((x) => x.trim());
  assert.equal(steps[0], 'npm ci');
  const args = (step: string) => [...step.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(2);
  const dir = join(tmp, 'readme');
  const generate = args(steps[1]!);
  assert.deepEqual(generate.slice(0, 2), ['demo', 'generate']);
  assert.equal(spoor(...generate.slice(0, 2), dir, ...generate.slice(3)).code, 0);
  const scanArgs = args(steps[2]!);
  assert.deepEqual(scanArgs.slice(0, 2), ['exchange', 'scan']);
  const home = mkdtempSync(join(tmpdir(), 'spoor-home-fresh-'));
  // A fresh install: an empty data directory, nothing downloaded.
  const r = spawnSync(process.execPath, [SPOOR, ...scanArgs.slice(0, 2), dir, ...scanArgs.slice(3), '--no-progress'], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, SPOOR_HOME: home } });
  rmSync(home, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
  const sector = scanArgs[scanArgs.indexOf('--sector') + 1];
  assert.ok(sector, 'the README gives the victim sector');
  const tail = r.stderr.slice(r.stderr.indexOf('\nAttribution\n'));
  assert.match(tail, /^\nAttribution\nLeading hypothesis: HAFNIUM \(Silk Typhoon\), G0125, suspected origin China, (likely|very likely|almost certain)/);
  assert.match(tail, /\n1 +G0125 +HAFNIUM \(Silk Typhoon\) /);
  const consistent = /\n  consistent: (.*)\n/.exec(tail)![1]!;
  assert.match(consistent, /cve CVE-2021-\d+(, CVE-2021-\d+)*: reported exploiting them/);
  assert.match(consistent, /Web Shell \(T1505\.003\)/);
  assert.match(consistent, /infrastructure vps:US: \d+ address\(es\) in leased server networks in US/);
  assert.match(consistent, new RegExp(`sector ${normaliseSector(sector!)}: the group is reported targeting this sector`));
  assert.match(tail, /Knowledge: ATT&CK v18\.1 \(shipped with Spoor\); MISP galaxy .* \(shipped with Spoor\)/);
});

test('exchange scan --no-attribute ends at the summary', () => {
  const r = spoor('exchange', 'scan', compromised, '--no-attribute', '--format', 'jsonl');
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Leading hypothesis/);
});

test('exchange scan of the collection zipped (as the web UI takes it) finds what the scan of the folder finds: file checks, YARA, indicators, the build', () => {
  const files: Record<string, Uint8Array> = {};
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), `${rel}${e.name}/`);
      else files[`${rel}${e.name}`] = readFileSync(join(dir, e.name));
    }
  };
  walk(compromised, 'EXCH01/');
  const zipped = join(tmp, 'zipped');
  mkdirSync(zipped);
  writeFileSync(join(zipped, 'collection.zip'), zipSync(files));
  const folder = spoor(...scanArgs(compromised));
  const archive = spoor(...scanArgs(zipped));
  assert.equal(archive.code, folder.code, archive.stderr);
  // One key per detection: the rule, the file by its path in the server's tree, the record or line.
  const keys = (stdout: string, name: (file: string) => string) => parse(stdout).map((d) => `${d.rule.id} ${name(d.file)} ${d.record_id}`).sort();
  const inFolder = keys(folder.stdout, (f) => f.replace(`${compromised}/`, ''));
  const inArchive = keys(archive.stdout, (f) => f.replace(`${join(zipped, 'collection.zip')}!EXCH01/`, ''));
  assert.ok(inFolder.some((k) => k.startsWith('spoor-yara-')) && inFolder.some((k) => k.startsWith('spoor-exchange-')) && inFolder.some((k) => k.startsWith('spoor-exchange-exposure')));
  assert.deepEqual(inArchive, inFolder);
  assert.match(archive.stderr, /Exchange build 15\.1\.2176\.2: Exchange Server 2016 CU19 \(from EXCH01\/Program Files/);
  // An entry's file time is not the server's: no file finding is dated by the unpacking.
  const today = new Date().toISOString().slice(0, 10);
  assert.ok(!parse(archive.stdout).some((d) => d.channel === 'File' && String((d as unknown as { timestamp: string }).timestamp).startsWith(today)));
});

test('exchange scan --no-file-times: file findings of a copy that lost its times carry none (they would stretch the timeline to the day of the copy)', () => {
  const r = spoor(...scanArgs(compromised), '--no-file-times');
  assert.equal(r.code, 0, r.stderr);
  const files = parse(r.stdout).filter((d) => d.channel === 'File');
  assert.ok(files.length > 3);
  assert.deepEqual(files.map((d) => (d as unknown as { timestamp: string }).timestamp).filter(Boolean), []);
  const dated = parse(spoor(...scanArgs(compromised)).stdout).filter((d) => d.channel === 'File');
  assert.ok(dated.every((d) => (d as unknown as { timestamp: string }).timestamp !== ''));
});
