import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { EvtxEvent } from '../../src/evidence/event.js';
import { fromCloudRecord } from '../../src/evidence/cloud.js';
import { DATA, SPOOR } from '../helpers/paths.js';

/*
 * The Golden SAML lab run (OTRF Security Datasets, Microsoft Sentinel's table shapes) is the first
 * oracle: which SigmaHQ cloud rules must fire follows from their selections and the operations the
 * records hold. The same records in the other shapes responders get (the Management Activity API's,
 * a Purview CSV export, Microsoft Graph's, Azure Monitor's) must read the same.
 */
const GOLDEN = `${DATA}/cloud/otrf-golden-saml-mail-access`;
const CLOUD_RULES = `${DATA}/sigma/rules/cloud`;
const tmp = mkdtempSync(join(tmpdir(), 'spoor-cloud-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function spoor(...args: string[]) {
  const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
type Found = { rule: { title: string; file: string }; channel: string; event_id: string; line?: number; file: string; timestamp: string };
const hunt = (...args: string[]) => {
  const r = spoor('hunt', ...args, '--format', 'jsonl');
  assert.equal(r.code, 0, r.stderr);
  return { found: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Found), stderr: r.stderr };
};
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('SigmaHQ azure audit rules fire on the Golden SAML run\'s Entra ID audit records: the credentials added to the app and the mail permission granted', () => {
  const { found } = hunt(`${GOLDEN}/AADAuditEvents.json`, '--rules', CLOUD_RULES);
  // Each record's OperationName, and the rules whose properties.message selection names it.
  const operations = lines(`${GOLDEN}/AADAuditEvents.json`).map((r) => String(r.OperationName).trim());
  assert.deepEqual(operations.sort(), ['Add delegated permission grant', 'Update application', 'Update application – Certificates and secrets management', 'Update application – Certificates and secrets management']);
  const byRule = new Map<string, string[]>();
  for (const d of found) byRule.set(basename(d.rule.file), [...(byRule.get(basename(d.rule.file)) ?? []), d.event_id]);
  assert.deepEqual(Object.fromEntries([...byRule].sort()), {
    'azure_app_appid_uri_changes.yml': ['Update application'],
    'azure_app_credential_added.yml': ['Update application – Certificates and secrets management', 'Update application – Certificates and secrets management'],
    'azure_app_delegated_permissions_all_users.yml': ['Add delegated permission grant'],
    'azure_app_permissions_msft.yml': ['Add delegated permission grant'],
  });
  for (const d of found) {
    assert.equal(d.channel, 'AuditLogs');
    assert.match(d.timestamp, /^2021-08-02T13:2\d:\d\d\.\d{3}Z$/);
    assert.ok(d.line && d.line >= 1 && d.line <= 4, 'a JSON line detection names its line');
  }
});

test('Spoor\'s own cloud rules name the mail permission (Mail.ReadWrite) and the credentials, without SigmaHQ\'s rules', () => {
  const { found } = hunt(`${GOLDEN}/AADAuditEvents.json`, '--rules', 'rules/cloud');
  assert.deepEqual(found.map((d) => d.rule.title).sort(), ['Application Given Rights To Read Or Send Mail', 'Credentials Added To An Application', 'Credentials Added To An Application']);
});

test('a unified audit log record reads the same from Sentinel\'s OfficeActivity, Defender XDR\'s RawEventData, the Management API and a Purview CSV', () => {
  const sentinel = lines(`${GOLDEN}/OfficeActivityEvents.json`)[0]!;
  const defender = lines(`${GOLDEN}/Microsoft365DefenderEvents.json`).find((r) => r.ActionType === 'MailItemsAccessed')!;
  const api = defender.RawEventData as Record<string, unknown>;
  const views = [sentinel, api].map((r) => new EvtxEvent(fromCloudRecord(r)));
  for (const v of views) {
    assert.equal(v.get('Channel'), 'OfficeActivity');
    assert.equal(v.get('EventID'), 'MailItemsAccessed');
    assert.equal(v.get('TimeCreated_SystemTime'), '2021-08-02T13:32:07.000Z');
    assert.equal(v.get('MailboxOwnerUPN'), 'pgustavo@simulandlabs.com');
    assert.equal(v.get('ClientAppId'), '5a95e683-08ad-424e-a441-1d1aec52c02c');
    assert.equal(v.get('ClientIPAddress'), '1.2.3.4');
    assert.equal(v.get('Workload'), 'Exchange');
    // Sentinel's JSON text and PowerShell's @{…} rendering both give the folder and the access type.
    assert.deepEqual([v.get('Folders.Path')].flat(), ['\\Inbox']);
    const names = [v.get('OperationProperties.Name')].flat();
    const values = [v.get('OperationProperties.Value')].flat();
    assert.equal(values[names.indexOf('MailAccessType')], 'Bind');
  }
  // Trimmed: Microsoft ends the server's name with CRLF.
  assert.equal(views[0]!.get('OriginatingServer'), 'AB1CD23EF4567 (15.20.4200.000)');

  // A Purview export: one row per record, the record as JSON in AuditData; a broken one is named and skipped.
  const csv = join(tmp, 'AuditLog_2021-08-02.csv');
  const cell = (v: string) => `"${v.replace(/"/g, '""')}"`;
  writeFileSync(csv, ['CreationDate,UserIds,Operations,AuditData', `2021-08-02T13:32:07.0000000Z,pgustavo@simulandlabs.com,MailItemsAccessed,${cell(JSON.stringify(api))}`, `2021-08-02T13:33:00.0000000Z,pgustavo@simulandlabs.com,MailItemsAccessed,${cell('{"CreationTime": "2021-08-02T13:33:00", "Operation": ')}`, `2021-08-02T13:34:00.0000000Z,pgustavo@simulandlabs.com,Send,${cell(JSON.stringify({ ...api, Id: 'x', Operation: 'Send', CreationTime: '2021-08-02T13:34:00' }))}`].join('\r\n') + '\r\n');
  const api2 = join(tmp, 'management-api.json');
  writeFileSync(api2, JSON.stringify([api]));
  const rule = join(tmp, 'mail_items_accessed.yml');
  writeFileSync(rule, 'title: MailItemsAccessed by an app\nid: 9b7d1f0e-1c1e-4a6a-9a59-0c7e6e0d5a11\nlogsource: {product: m365, service: audit}\ndetection:\n  selection:\n    Operation: MailItemsAccessed\n    ClientAppId: 5a95e683-08ad-424e-a441-1d1aec52c02c\n  condition: selection\nlevel: medium\n');
  const { found, stderr } = hunt(csv, api2, `${GOLDEN}/OfficeActivityEvents.json`, '--rules', rule);
  assert.deepEqual(found.map((d) => `${basename(d.file)}:${d.line}`).sort(), ['AuditLog_2021-08-02.csv:2', 'OfficeActivityEvents.json:1', 'management-api.json:1']);
  assert.match(stderr, /AuditLog_2021-08-02\.csv:3: its AuditData is not valid JSON \([^)]*\); row skipped/);
});

test('Entra ID audit records from Microsoft Graph and Azure Monitor\'s export read as Sentinel\'s do', () => {
  const sentinel = lines(`${GOLDEN}/AADAuditEvents.json`).find((r) => r.OperationName === 'Add delegated permission grant')!;
  const parse = (v: unknown) => JSON.parse(String(v)) as unknown;
  // Graph's directoryAudit: camelCase, nested objects as objects (learn.microsoft.com/graph/api/resources/directoryaudit).
  const graph = { id: sentinel.Id, category: sentinel.Category, correlationId: sentinel.CorrelationId, result: sentinel.Result, resultReason: '', activityDisplayName: sentinel.OperationName, activityDateTime: sentinel.ActivityDateTime, loggedByService: sentinel.LoggedByService, operationType: 'Assign', initiatedBy: parse(sentinel.InitiatedBy), targetResources: parse(sentinel.TargetResources), additionalDetails: parse(sentinel.AdditionalDetails) };
  // Azure Monitor's diagnostic export: an envelope, the record in properties.
  const monitor = { time: sentinel.TimeGenerated, resourceId: sentinel.ResourceId, operationName: sentinel.OperationName, operationVersion: '1.0', category: 'AuditLogs', tenantId: sentinel.TenantId, resultSignature: 'None', durationMs: 0, correlationId: sentinel.CorrelationId, level: 'Informational', properties: graph };
  for (const r of [sentinel, graph, monitor]) {
    const v = new EvtxEvent(fromCloudRecord(r));
    assert.equal(v.get('Channel'), 'AuditLogs');
    assert.equal(v.get('OperationName'), 'Add delegated permission grant');
    assert.equal(v.get('Category'), 'ApplicationManagement');
    assert.equal(v.get('TimeCreated_SystemTime'), '2021-08-02T13:27:20.017Z');
    assert.deepEqual(v.get('TargetResources.displayName'), ['Microsoft Graph', null]);
    assert.equal(v.get('InitiatedBy.user.userPrincipalName'), 'pgustavo@simulandlabs.com');
    // Changed properties by their own names, unquoted.
    assert.equal(v.get('DelegatedPermissionGrant.Scope'), 'User.Read Mail.ReadWrite');
  }
  const dir = join(tmp, 'shapes');
  spawnSync('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'graph.json'), JSON.stringify({ value: undefined, ...graph }) + '\n');
  writeFileSync(join(dir, 'monitor.json'), JSON.stringify(monitor) + '\n');
  const { found } = hunt(dir, '--rules', `${CLOUD_RULES}/azure/audit_logs/azure_app_delegated_permissions_all_users.yml`, `${CLOUD_RULES}/azure/audit_logs/azure_app_permissions_msft.yml`);
  assert.equal(found.length, 4, found.map((d) => `${d.file} ${d.rule.title}`).join('\n'));
});

test('a hostile cloud record: JSON nested in strings past the depth bound, a huge embedded text, a field named like a prototype key: read without harm', () => {
  let deep = '"x"';
  for (let i = 0; i < 16; i++) deep = JSON.stringify(`[${deep}]`);
  const record = { ...(JSON.parse('{"__proto__": {"polluted": "yes"}, "Nested": "{\\"__proto__\\": {\\"polluted\\": \\"yes\\"}}"}') as object), CreationTime: '2021-08-02T13:32:07', Operation: 'MailItemsAccessed', Workload: 'Exchange', Deep: JSON.parse(deep) as string, Big: `[${'1,'.repeat(600_000)}1]`, constructor: 'c' };
  // Many values under one name, and a large record nested deep (each level's text would copy it again).
  let nested: unknown = { blob: 'x'.repeat(1_000_000) };
  for (let i = 0; i < 10; i++) nested = { level: nested };
  Object.assign(record, { Many: Array.from({ length: 300_000 }, (_, i) => ({ n: String(i) })), Nested2: nested });
  const v = new EvtxEvent(fromCloudRecord(record));
  assert.equal((v.get('Many.n') as string[]).length, 300_000);
  assert.equal((v.get(`Nested2${'.level'.repeat(10)}.blob`) as string).length, 1_000_000);
  assert.equal(v.get('__proto__.polluted'), 'yes');
  assert.equal(v.get('Nested.__proto__.polluted'), 'yes');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(v.get('Channel'), 'OfficeActivity');
  assert.equal(typeof v.get('Big'), 'string', 'text past the embedded-JSON bound stays text');
  assert.equal(v.get('constructor'), 'c');
});

test('the Golden SAML run\'s AD FS steps in Sentinel\'s SecurityEvent and Event tables: every DKM key read (4662 on a contact\'s thumbnailPhoto) and the token-signing settings read', () => {
  const records = lines(`${GOLDEN}/WindowsEvents.json`);
  // The oracle, from the records themselves: 4662 naming both the contact class and thumbnailPhoto, by a user account.
  const dkm = records.filter((r) => r.EventID === 4662 && String(r.ObjectType).includes('5cb41ed0-0e4c-11d0-a286-00aa003049e2') && String(r.Properties).includes('8d3bca50-1d7e-11d0-a081-00aa006c33ed') && !String(r.SubjectUserName).endsWith('$'));
  const settings = records.filter((r) => r.EventID === 33205 && /SELECT ServiceSettingsData from IdentityServerPolicy\.ServiceSettings/.test(String(r.ParameterXml)));
  assert.equal(dkm.length, 5);
  assert.equal(settings.length, 1);
  const { found } = hunt(`${GOLDEN}/WindowsEvents.json`, '--rules', 'rules/windows');
  const times = (title: RegExp) => found.filter((d) => title.test(d.rule.title)).map((d) => Date.parse(d.timestamp)).sort();
  assert.deepEqual(times(/DKM/), dkm.map((r) => Date.parse(String(r.TimeGenerated))).sort());
  assert.deepEqual(times(/Configuration Database/), settings.map((r) => Date.parse(String(r.TimeGenerated))));
});

test('Azure\'s activity log (Sentinel\'s AzureActivity, Azure Monitor\'s export) and Entra ID Protection\'s risk detections (Graph) meet SigmaHQ\'s activitylogs and riskdetection rules', () => {
  const dir = join(tmp, 'azure');
  spawnSync('mkdir', ['-p', dir]);
  // Shapes from Microsoft's documentation of the AzureActivity table, the activity log's export schema and Graph's riskDetection.
  const sentinel = { Type: 'AzureActivity', TimeGenerated: '2023-05-04T10:00:00Z', OperationName: 'Create role assignment', OperationNameValue: 'MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE', CategoryValue: 'Administrative', ActivityStatusValue: 'Success', Caller: 'mallory@contoso.example', CallerIpAddress: '203.0.113.9', ResourceProviderValue: 'MICROSOFT.AUTHORIZATION', ResourceId: '/subscriptions/0000/providers/Microsoft.Authorization/roleAssignments/1' };
  const monitor = { time: '2023-05-04T10:05:00.0000000Z', resourceId: '/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/GW1', operationName: 'MICROSOFT.NETWORK/APPLICATIONGATEWAYS/WRITE', category: 'Administrative', resultType: 'Success', callerIpAddress: '203.0.113.9', correlationId: 'c1', identity: { claims: { name: 'mallory' } }, level: 'Information', properties: { statusCode: 'Created', eventCategory: 'Administrative', entity: '/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/GW1', message: 'Microsoft.Network/applicationGateways/write' } };
  const risk = { id: 'r1', requestId: 'q1', riskEventType: 'unfamiliarFeatures', riskState: 'atRisk', riskLevel: 'medium', source: 'IdentityProtection', detectionTimingType: 'realtime', activity: 'signin', ipAddress: '203.0.113.9', activityDateTime: '2023-05-04T09:58:00Z', detectedDateTime: '2023-05-04T09:58:30Z', userPrincipalName: 'mallory@contoso.example' };
  writeFileSync(join(dir, 'azure.json'), [sentinel, monitor, risk].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const { found } = hunt(dir, '--rules', `${CLOUD_RULES}/azure/activity_logs`, `${CLOUD_RULES}/azure/identity_protection`);
  assert.deepEqual(found.map((d) => `${d.channel} ${basename(d.rule.file)}`).sort(), ['AADUserRiskEvents azure_identity_protection_unfamilar_sign_in.yml', 'AzureActivity azure_application_gateway_modified_or_deleted.yml', 'AzureActivity azure_granting_permission_detection.yml']);
});

test('Defender for Endpoint\'s DeviceProcessEvents: SigmaHQ\'s process-creation regression samples, written as Defender exports them, fire their rules as the Sysmon samples do', () => {
  // SigmaHQ's labels are the oracle: each regression sample of a process_creation rule fires its rule
  // (at least match_count times) as Sysmon JSON; its events turned into DeviceProcessEvents rows (the
  // columns Microsoft documents; no Type, as an advanced hunting export has none) must fire it as often.
  const root = `${DATA}/sigma/regression_data`;
  const infos = spawnSync('find', [root, '-path', '*proc_creation_win*', '-name', 'info.yml'], { encoding: 'utf8' }).stdout.trim().split('\n').sort();
  const dir = join(tmp, 'defender');
  spawnSync('mkdir', ['-p', dir]);
  const samples: { id: string; json: string; least: number; report: string }[] = [];
  const rows: string[] = [];
  const base = (p: unknown) => String(p ?? '').split('\\').pop()!;
  for (const info of infos) {
    const text = readFileSync(info, 'utf8');
    const id = /rule_metadata:\s*\n\s*- id: ([0-9a-f-]{36})/.exec(text)?.[1];
    const sample = /path: (regression_data\/\S+)\.evtx/.exec(text)?.[1];
    if (!id || !sample) continue;
    const json = `${DATA}/sigma/${sample}.json`;
    const report = `sample-${samples.length}`;
    samples.push({ id, json, least: Number(/match_count: (\d+)/.exec(text)?.[1] ?? 1), report });
    const events = readFileSync(json, 'utf8').split(/\n(?=\{)/).map((t) => JSON.parse(t) as { Event: { System: Record<string, unknown>; EventData?: Record<string, unknown> } });
    for (const e of events) {
      const d = e.Event.EventData ?? {};
      if (e.Event.System.EventID !== 1) continue;
      const [domain, name] = String(d.User ?? '\\').split('\\');
      const [parentDomain, parentName] = String(d.ParentUser ?? '\\').split('\\');
      rows.push(JSON.stringify({
        Timestamp: (e.Event.System.TimeCreated as { '#attributes': { SystemTime: string } })['#attributes'].SystemTime, DeviceId: 'd', DeviceName: String(e.Event.System.Computer), ActionType: 'ProcessCreated',
        FileName: base(d.Image), FolderPath: d.Image, ProcessCommandLine: d.CommandLine, ProcessId: d.ProcessId, ProcessIntegrityLevel: d.IntegrityLevel, AccountDomain: domain, AccountName: name,
        ProcessVersionInfoOriginalFileName: d.OriginalFileName, ProcessVersionInfoFileDescription: d.Description, ProcessVersionInfoProductName: d.Product, ProcessVersionInfoCompanyName: d.Company,
        InitiatingProcessFileName: base(d.ParentImage), InitiatingProcessFolderPath: d.ParentImage, InitiatingProcessCommandLine: d.ParentCommandLine, InitiatingProcessId: d.ParentProcessId,
        InitiatingProcessAccountDomain: parentDomain, InitiatingProcessAccountName: parentName, ReportId: report,
      }));
    }
  }
  assert.ok(samples.length >= 60, `${samples.length} samples`);
  writeFileSync(join(dir, 'DeviceProcessEvents.json'), rows.join('\n') + '\n');
  const rules = [`${DATA}/sigma/rules/windows/process_creation`, `${DATA}/sigma/rules-emerging-threats`, `${DATA}/sigma/rules-threat-hunting`];
  const counts = (args: string[], key: (d: { rule: { id: string }; record_id: string; file: string }) => string) => {
    const r = spoor('hunt', ...args, '--format', 'jsonl', '--rules', ...rules);
    assert.equal(r.code, 0, r.stderr);
    const out = new Map<string, number>();
    for (const l of r.stdout.trim().split('\n').filter(Boolean)) {
      const k = key(JSON.parse(l) as { rule: { id: string }; record_id: string; file: string });
      out.set(k, (out.get(k) ?? 0) + 1);
    }
    return out;
  };
  const sysmon = counts(samples.map((x) => x.json), (d) => `${d.file} ${d.rule.id}`);
  const defender = counts([dir], (d) => `${d.record_id} ${d.rule.id}`);
  const differ: string[] = [];
  for (const x of samples) {
    const want = sysmon.get(`${x.json} ${x.id}`) ?? 0;
    assert.ok(want >= x.least, `${x.json}: the Sysmon sample fires its rule ${want} times, SigmaHQ says ${x.least}`);
    const got = defender.get(`${x.report} ${x.id}`) ?? 0;
    if (got !== want) differ.push(`${basename(x.json)}: ${got} of ${want}`);
  }
  console.log(`DeviceProcessEvents: ${samples.length - differ.length} of ${samples.length} samples fire their rule as often as Sysmon's; differ: ${differ.join('; ') || 'none'}`);
  assert.deepEqual(differ, []);
});
