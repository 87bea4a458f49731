import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SPOOR } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-filter-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const RULE = `title: Data Compressed - rar.exe
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        CommandLine|contains: 'rar.exe a '
    condition: selection
level: low
`;

/** The specification's example filter. */
const FILTER = `title: Filter Administrator account
description: The valid administrator account start with adm_
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - 6f3e2987-db24-4c78-a860-b4f4095a7095 # Data Compressed - rar.exe
        - df0841c0-9846-4e9f-ad8a-7df91571771b # Login on jump host
    selection:
        User|startswith: 'adm_'
    condition: selection
`;

function proc(user: string, id: number) {
  return { Event: { System: { EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Computer: 'WS1', EventRecordID: id, TimeCreated: { '#attributes': { SystemTime: '2021-03-03T02:00:00.000000Z' } } }, EventData: { CommandLine: 'rar.exe a out.rar c:\\data', User: user } } };
}

test('a Sigma filter suppresses the matches of the rules it names where its condition holds', () => {
  const rules = join(tmp, 'rules');
  mkdirSync(rules);
  writeFileSync(join(rules, 'rar.yml'), RULE);
  writeFileSync(join(tmp, 'events.jsonl'), [proc('CORP\\bob', 1), proc('adm_alice', 2)].map((e) => JSON.stringify(e)).join('\n'));
  const hunt = () => spawnSync(process.execPath, [SPOOR, 'hunt', join(tmp, 'events.jsonl'), '--format', 'jsonl', '--rules', rules], { encoding: 'utf8' });
  const users = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).event.Event.EventData.User);
  assert.deepEqual(users(hunt().stdout), ['CORP\\bob', 'adm_alice'], 'without the filter both match');
  writeFileSync(join(rules, 'mf_admin.yml'), FILTER);
  assert.deepEqual(users(hunt().stdout), ['CORP\\bob'], 'the filter suppresses the adm_ account');
  const check = spawnSync(process.execPath, [SPOOR, 'rules', 'check', rules], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout);
});
