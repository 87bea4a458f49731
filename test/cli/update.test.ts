import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { DATA, listFiles, SPOOR } from '../helpers/paths.js';
import { BUNDLED_EXCHANGE_DATA, parseBuildRows } from '../../src/exchange/tables.js';

// A stand-in for GitHub on 127.0.0.1, serving files made from the shared data: the tests never touch the network.
const RULE_DIR = `${DATA}/sigma/rules/windows/process_creation`;
const ruleFiles = listFiles(RULE_DIR, '.yml');
const zip = Buffer.from(zipSync(Object.fromEntries([
  ...ruleFiles.map((f) => [`sigma_all_rules/rules/windows/process_creation/${relative(RULE_DIR, f)}`, readFileSync(f)]),
  ['sigma_all_rules/LICENSE', strToU8('Detection Rule License (DRL) 1.1')],
  ['sigma_all_rules/rules/../../../escape.yml', strToU8('title: outside')],
])));
const attack = readFileSync(`${DATA}/attack/enterprise-attack.json`);
// The CSS-Exchange build dictionary's shape, written from the shipped table plus two builds it lacks.
const shipped = parseBuildRows(`${BUNDLED_EXCHANGE_DATA}/builds.csv`);
const newer = [...shipped, { product: 'Exchange2019', cu: 'CU15', update: 'Jun26SU', build: '15.2.1748.46', source: '' }, { product: 'ExchangeSE', cu: 'RTM', update: 'Jun26SU', build: '15.2.2562.43', source: '' }];
function buildDictionary(rows: typeof newer): string {
  const out = ['function GetExchangeBuildDictionary {', '    return @{'];
  for (const product of [...new Set(rows.map((r) => r.product))]) {
    out.push(`        "${product}" = @{`);
    for (const cu of [...new Set(rows.filter((r) => r.product === product).map((r) => r.cu))]) {
      const of = rows.filter((r) => r.product === product && r.cu === cu);
      out.push(`            "${cu}" = (NewCUAndSUObject "${of.find((r) => !r.update)?.build ?? of[0]!.build}" @{`);
      for (const r of of.filter((r) => r.update)) out.push(`                    "${r.update}" = "${r.build}"`);
      out.push('                })');
    }
    out.push('        }');
  }
  return `${out.join('\r\n')}\r\n    }\r\n}\r\n`;
}
// As CSS-Exchange's dictionary, without RTM builds: the installed table keeps Spoor's.
const exchangeBuilds = Buffer.from(buildDictionary(newer.filter((r) => r.cu !== 'RTM' || r.product === 'ExchangeSE')));
const exchangeShort = Buffer.from(buildDictionary(newer.filter((r) => r.product !== 'ExchangeSE')));
const exchangePartial = Buffer.from(buildDictionary(newer.filter((r) => r.update !== 'Mar21SU')));
const tampered = Buffer.from(JSON.stringify({ type: 'bundle', id: 'bundle--x', objects: [{ type: 'attack-pattern', name: 'just one' }] }));
const galaxy = (f: string) => readFileSync(`${DATA}/cti/misp-galaxy/${f}`);

let server: Server;
let base = '';
before(async () => {
  server = createServer((req, res) => {
    const send = (body: Buffer, length = body.length) => {
      res.writeHead(200, { 'content-length': String(length) });
      res.end(body);
    };
    switch (req.url) {
      case '/sigma.zip': return send(zip);
      case '/attack.json': return send(attack);
      case '/tampered.json': return send(tampered);
      case '/galaxy/threat-actor.json': return send(galaxy('threat-actor.json'));
      case '/galaxy/microsoft-activity-group.json': return send(galaxy('microsoft-activity-group.json'));
      case '/bad-galaxy/threat-actor.json': return send(galaxy('threat-actor.json'));
      case '/bad-galaxy/microsoft-activity-group.json': return send(galaxy('sector.json'));
      case '/builds.ps1': return send(exchangeBuilds);
      case '/short.ps1': return send(exchangeShort);
      case '/partial.ps1': return send(exchangePartial);
      case '/truncated.zip': {
        // Announces the whole archive, sends half, hangs up.
        res.writeHead(200, { 'content-length': String(zip.length) });
        res.write(zip.subarray(0, zip.length >> 1), () => res.destroy());
        return;
      }
      case '/half.zip': return send(zip.subarray(0, zip.length >> 1));
      default:
        res.writeHead(404);
        res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
});
after(() => server.close());

const home = mkdtempSync(join(tmpdir(), 'spoor-update-'));
after(() => rmSync(home, { recursive: true, force: true }));

function spoor(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Asynchronous: the server lives in this process.
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SPOOR, ...args], { env: { ...process.env, SPOOR_HOME: home } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const installed = () => listFiles(join(home, 'sigma'), '.yml').map((f) => relative(join(home, 'sigma'), f)).sort();
const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('spoor update installs the rules and ATT&CK it downloaded; hunt then uses them by default', async () => {
  const r = await spoor('update', '--sigma-url', `${base}/sigma.zip`, '--attack-url', `${base}/attack.json`, '--galaxy-url', `${base}/galaxy/`, '--exchange-url', `${base}/builds.ps1`, '--sigma-sha256', digest(zip));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(installed(), ruleFiles.map((f) => join('rules/windows/process_creation', relative(RULE_DIR, f))).sort());
  assert.ok(!readdirSync(home).some((n) => n.startsWith('.staging') || n.includes('.old-')), 'nothing left behind');
  assert.ok(!listFiles(home, '.yml').some((f) => f.endsWith('escape.yml')), 'an entry with .. is not written');
  assert.equal(digest(readFileSync(join(home, 'attack/enterprise-attack.json'))), digest(attack));
  assert.match(r.stderr, /attack: ATT&CK .*techniques, \d+ groups/);
  assert.equal(digest(readFileSync(join(home, 'cti/threat-actor.json'))), digest(galaxy('threat-actor.json')));
  assert.match(r.stderr, /cti: 1041 threat-actor clusters, 179 microsoft-activity-group clusters/);
  // Attribution now says it reads the installed copies, and resolves a vendor's name through them.
  const caseFile = join(home, 'case.json');
  writeFileSync(caseFile, JSON.stringify({ actors: ['MURKY PANDA'] }));
  const a = await spoor('attribute', '--input', caseFile, '--format', 'json');
  assert.equal(a.code, 0, a.stderr);
  const attribution = JSON.parse(a.stdout) as { candidates: { id: string }[]; knowledge: { sources: string[] } };
  assert.equal(attribution.candidates[0]!.id, 'G0125');
  assert.deepEqual(attribution.knowledge.sources.map((x) => /\(spoor update/.test(x)), [true, true]);
  const hunt = await spoor('hunt', `${DATA}/evtx/attack-samples`, '--format', 'jsonl');
  assert.equal(hunt.code, 0, hunt.stderr);
  assert.match(hunt.stderr, /rules: SigmaHQ rules from spoor update/);
  const loaded = Number(/(\d+) rules and/.exec(hunt.stderr)?.[1]);
  assert.ok(loaded > 100 && loaded <= ruleFiles.length, `${loaded} rules loaded of ${ruleFiles.length} files`);
  assert.ok(hunt.stdout.trim().split('\n').length > 10);
  // The Exchange build list: every shipped build read back from the script's dictionary, and the newer ones known.
  const table = parseBuildRows(join(home, 'exchange/builds.csv'));
  assert.deepEqual(table.map((r) => `${r.product} ${r.cu} ${r.update} ${r.build}`).sort(), newer.map((r) => `${r.product} ${r.cu} ${r.update} ${r.build}`).sort());
  const build = await spoor('exchange', 'build', '15.2.2562.43', '--format', 'json');
  assert.equal(JSON.parse(build.stdout).known, true, build.stderr);
  assert.equal(JSON.parse(build.stdout).update, 'Jun26SU');
});

test('a truncated, short, tampered or wrongly digested download leaves the installed copy as it was', async () => {
  const before = installed();
  const attackBefore = digest(readFileSync(join(home, 'attack/enterprise-attack.json')));
  for (const [args, why] of [
    [['--only', 'sigma', '--sigma-url', `${base}/truncated.zip`], /broke off|bytes of the .* announced/],
    [['--only', 'sigma', '--sigma-url', `${base}/half.zip`], /not a readable zip archive/],
    [['--only', 'sigma', '--sigma-url', `${base}/sigma.zip`, '--sigma-sha256', '0'.repeat(64)], /SHA-256/],
    [['--only', 'sigma', '--sigma-url', `${base}/missing.zip`], /HTTP 404/],
    [['--only', 'attack', '--attack-url', `${base}/tampered.json`], /not the ATT&CK Enterprise matrix/],
    [['--only', 'cti', '--galaxy-url', `${base}/bad-galaxy/`], /microsoft-activity-group.json: galaxy type "sector"/],
    [['--only', 'cti', '--galaxy-url', `${base}/missing/`], /HTTP 404/],
    [['--only', 'exchange', '--exchange-url', `${base}/short.ps1`], /names no builds of ExchangeSE/],
    [['--only', 'exchange', '--exchange-url', `${base}/partial.ps1`], /lacks \d+ builds Spoor knows/],
  ] as const) {
    const r = await spoor('update', ...args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /not updated, the installed copy is unchanged/);
    assert.match(r.stderr, why);
    assert.deepEqual(installed(), before);
    assert.equal(digest(readFileSync(join(home, 'attack/enterprise-attack.json'))), attackBefore);
    assert.ok(!readdirSync(home).some((n) => n.startsWith('.staging')), 'no staging left behind');
  }
});
