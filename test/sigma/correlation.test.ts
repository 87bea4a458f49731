import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SPOOR } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-corr-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The specification's example, grouped by TargetUserName (the Security log's field), plus more. */
const RULES = `title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - TargetUserName
    timespan: 10m
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - TargetUserName
    timespan: 10m
    condition:
        gte: 10
level: medium
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
---
title: Password spraying from one address
id: 11111111-2222-3333-4444-555555555555
correlation:
    type: value_count
    rules:
        - failed_login
    group-by:
        - IpAddress
    timespan: 5m
    condition:
        field: TargetUserName
        gte: 3
level: high
`;

const T0 = Date.UTC(2021, 2, 3, 2, 0, 0);

function logon(eventId: number, user: string, ip: string, seconds: number, id: number) {
  return {
    Event: {
      System: { EventID: eventId, Channel: 'Security', Computer: 'EXCH01', EventRecordID: id, TimeCreated: { '#attributes': { SystemTime: new Date(T0 + seconds * 1000).toISOString() } } },
      EventData: { TargetUserName: user, IpAddress: ip },
    },
  };
}

test('correlations: event_count, chained temporal_ordered, value_count; timespans expire; referred rules stay quiet', () => {
  mkdirSync(join(tmp, 'rules'));
  writeFileSync(join(tmp, 'rules', 'bruteforce.yml'), RULES);
  const events: unknown[] = [];
  let id = 1;
  // bob: 10 failures in 5 minutes, then a success: brute force that worked.
  for (let i = 0; i < 10; i++) events.push(logon(4625, 'bob', '198.51.100.7', i * 30, id++));
  events.push(logon(4624, 'bob', '198.51.100.7', 320, id++));
  // alice: 9 failures and a success: not enough.
  for (let i = 0; i < 9; i++) events.push(logon(4625, 'alice', '203.0.113.1', 1000 + i * 30, id++));
  events.push(logon(4624, 'alice', '203.0.113.1', 1300, id++));
  // carol: 10 failures over 45 minutes: never 10 within 10 minutes.
  for (let i = 0; i < 10; i++) events.push(logon(4625, 'carol', '192.0.2.9', 5000 + i * 300, id++));
  // spraying: one address, three users within 2 minutes.
  for (const [i, u] of ['dave', 'erin', 'frank'].entries()) events.push(logon(4625, u, '192.0.2.66', 9000 + i * 40, id++));
  writeFileSync(join(tmp, 'events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');

  const r = spawnSync(process.execPath, [SPOOR, 'hunt', join(tmp, 'events.jsonl'), '--format', 'jsonl', '--rules', join(tmp, 'rules')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /2 rules and 3 correlations loaded/);
  const found = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const summary = found.map((d) => `${d.rule.title} ${JSON.stringify(d.correlation?.group)} ${d.correlation?.events.length}`);
  assert.deepEqual(summary, [
    'Multiple failed logons {"TargetUserName":"bob"} 10',
    'Correlation - Multiple Failed Logins Followed by Successful Login {"TargetUserName":"bob"} 11',
    'Password spraying from one address {"IpAddress":"192.0.2.66"} 3',
  ]);
  assert.equal(found[1].timestamp, new Date(T0 + 320_000).toISOString(), 'a correlation is dated by its last event');
});

test('generate: true reports the referred rules too; a correlation with unknown rules is set aside', () => {
  const dir = join(tmp, 'rules2');
  mkdirSync(dir);
  writeFileSync(join(dir, 'r.yml'), RULES.replace('    condition:\n        gte: 10\nlevel: medium', '    condition:\n        gte: 10\n    generate: true\nlevel: medium') +
    '---\ntitle: Dangling\nid: 99999999-2222-3333-4444-555555555555\ncorrelation:\n    type: temporal\n    rules: [nosuchrule]\n    group-by: [User]\n    timespan: 1m\n---\ntitle: Bad span\ncorrelation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [User]\n    timespan: soon\n    condition: {gte: 2}\n');
  const check = spawnSync(process.execPath, [SPOOR, 'rules', 'check', dir], { encoding: 'utf8' });
  assert.match(check.stdout, /set aside: 99999999-2222-3333-4444-555555555555 "Dangling": correlation refers to rules that are not loaded: nosuchrule/);
  assert.match(check.stdout, /error: "Bad span": correlation: timespan "soon"/);
  const events = Array.from({ length: 10 }, (_, i) => logon(4625, 'bob', '198.51.100.7', i * 30, i + 1));
  writeFileSync(join(tmp, 'events2.jsonl'), events.map((e) => JSON.stringify(e)).join('\n'));
  const r = spawnSync(process.execPath, [SPOOR, 'hunt', join(tmp, 'events2.jsonl'), '--format', 'jsonl', '--rules', dir], { encoding: 'utf8' });
  const titles = r.stdout.trim().split('\n').map((l) => JSON.parse(l).rule.title);
  assert.equal(titles.filter((t) => t === 'Single failed login').length, 10, 'generate: true shows the failed logins themselves');
  assert.equal(titles.filter((t) => t === 'Multiple failed logons').length, 1);
});

test('correlator: aliases join different fields; value_sum, value_avg and value_median hold on the window', async () => {
  const { Correlator } = await import('../../src/hunt/correlate.js');
  const { parseCorrelation } = await import('../../src/sigma/correlation.js');
  const rule = (name: string, correlation: Record<string, unknown>) => ({ title: name, name, tags: [], references: [], falsepositives: [], fields: [], related: [], logsource: {}, detection: {}, kind: 'correlation' as const, correlation, file: 'x', line: 1, detectionLine: 1, keyLines: new Map() });
  const ev = (fields: Record<string, unknown>) => ({ get: (f: string) => fields[f], values: () => Object.values(fields) });
  const hit = (ruleName: string, seconds: number, fields: Record<string, unknown>) => ({ ruleId: undefined, ruleName, timeMs: seconds * 1000, event: ev(fields), payload: fields });

  const joined = parseCorrelation(rule('joined', { type: 'temporal', rules: ['internal_error', 'new_connection'], 'group-by': ['internal_ip'], timespan: '10s', aliases: { internal_ip: { internal_error: 'DestinationIp', new_connection: 'SourceIp' } } }));
  const c1 = new Correlator([joined]);
  c1.add(hit('internal_error', 0, { DestinationIp: '10.0.0.5' }));
  c1.add(hit('new_connection', 4, { SourceIp: '10.0.0.5' }));
  c1.add(hit('internal_error', 100, { DestinationIp: '10.0.0.6' }));
  c1.add(hit('new_connection', 104, { SourceIp: '10.0.0.7' }));
  assert.deepEqual(c1.finish().map((d) => d.group), [{ internal_ip: '10.0.0.5' }]);

  const metric = (type: string, condition: Record<string, unknown>) => parseCorrelation(rule(type, { type, rules: ['upload'], 'group-by': ['User'], timespan: '1h', condition: { field: 'Bytes', ...condition } }));
  const uploads = [10, 20, 300].map((b, i) => hit('upload', i * 60, { User: 'bob', Bytes: b }));
  const run = (c: ReturnType<typeof metric>) => {
    const k = new Correlator([c]);
    uploads.forEach((u) => k.add(u));
    return k.finish().length;
  };
  assert.equal(run(metric('value_sum', { gte: 330 })), 1);
  assert.equal(run(metric('value_sum', { gt: 330 })), 0);
  assert.equal(run(metric('value_avg', { gte: 110 })), 1);
  assert.equal(run(metric('value_median', { gte: 20, lt: 21 })), 1);
});

test('correlator memory: hits are held as the fields correlations read; past the bound their events are counted, not kept', async () => {
  const { Correlator, MAX_HELD_EVENTS } = await import('../../src/hunt/correlate.js');
  const { correlationDetection, PLACE_FIELDS } = await import('../../src/hunt/hunt.js');
  const { parseCorrelation } = await import('../../src/sigma/correlation.js');
  const rule = (name: string, correlation: Record<string, unknown>) => ({ title: name, name, tags: [], references: [], falsepositives: [], fields: [], related: [], logsource: {}, detection: {}, kind: 'correlation' as const, correlation, file: 'x', line: 1, detectionLine: 1, keyLines: new Map() });
  const n = MAX_HELD_EVENTS + 5;
  const brute = parseCorrelation(rule('brute', { type: 'event_count', rules: ['failed'], 'group-by': ['IpAddress'], timespan: '1h', condition: { gte: n } }));
  const users = parseCorrelation(rule('users', { type: 'value_count', rules: ['failed'], 'group-by': ['IpAddress'], timespan: '1h', condition: { field: 'TargetUserName', gte: 3 } }));
  const k = new Correlator([brute, users], PLACE_FIELDS);
  const read: string[] = [];
  for (let i = 0; i < n; i++) {
    const fields: Record<string, unknown> = { IpAddress: '203.0.113.9', TargetUserName: `user${i % 2}`, EventRecordID: i + 1, Computer: 'DC01', CommandLine: 'x'.repeat(100) };
    // Only the fields correlations and the caller read are taken from an event.
    const event = { get: (f: string) => (read.push(f), fields[f]), values: () => Object.values(fields) };
    k.add({ ruleId: undefined, ruleName: 'failed', timeMs: i, event, payload: fields });
  }
  assert.deepEqual([...new Set(read)].sort(), [...PLACE_FIELDS, 'IpAddress', 'TargetUserName'].sort());
  const found = k.finish();
  // Every hit counted, in one group, although the last five events were not kept; two users only.
  assert.deepEqual(found.map((d) => [d.correlation.rule.name, d.hits.length, d.group]), [['brute', n, { IpAddress: '203.0.113.9' }]]);
  assert.equal(k.eventsNotKept, 5);
  const d = correlationDetection(found[0]!);
  assert.equal(d.events!.length, MAX_HELD_EVENTS);
  assert.equal(d.recordId, String(n), 'the detection is placed at its last hit, from the fields kept');
});
