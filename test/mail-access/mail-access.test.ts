import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import type { GroundTruth } from '../../src/demo/exchange-server.js';
import { cmdletsInText, parseParameters } from '../../src/mail-access/cmdlets.js';
import { normaliseIp, requestMailbox } from '../../src/mail-access/access.js';
import type { MailboxScope } from '../../src/mail-access/scope.js';
import { DATA, SPOOR } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-mail-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const demo = join(tmp, 'demo');

function spoor(...args: string[]) {
  const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
type Result = { mailboxes: MailboxScope[]; downloads: { path: string; ip: string }[]; grants: { what: string; app: string; permissions: string }[]; unnamed_requests: unknown[]; actors: { ips: Record<string, string>; identities: Record<string, string>; apps: Record<string, string> } };
const mailAccess = (...args: string[]): Result => {
  const r = spoor('mail-access', ...args, '--format', 'jsonl');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Result;
};

// Every intrusion too: ProxyShell exports a mailbox of its own, and ProxyNotShell signs in as a user whose own mail must stay out.
const all = join(tmp, 'all');
before(() => {
  for (const [dir, intrusions] of [[demo, 'proxylogon'], [all, 'proxylogon,proxyshell,proxynotshell']] as const) {
    const g = spoor('demo', 'generate', dir, '--size', '6MB', '--seed', '11', '--intrusion', intrusions);
    assert.equal(g.code, 0, g.stderr);
  }
});

/** Every line of a demo folder's HttpProxy logs. */
const proxyLines = (dir: string) => readdirSync(join(dir, 'Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy'), { recursive: true, withFileTypes: true })
  .filter((d) => d.isFile()).flatMap((d) => readFileSync(join(d.parentPath, d.name), 'utf8').split('\n'));

/** The mailboxes found in a demo folder against its ground truth: the same set, the same first and last times. */
function checkAgainstTruth(dir: string): { truth: GroundTruth; got: Result; byMailbox: Map<string, MailboxScope> } {
  const truth = JSON.parse(readFileSync(join(dir, 'ground-truth.json'), 'utf8')) as GroundTruth;
  const got = mailAccess(dir);
  const byMailbox = new Map(got.mailboxes.map((m) => [m.mailbox, m]));
  assert.deepEqual([...byMailbox.keys()].sort(), truth.mailAccess.map((m) => m.mailbox).sort(), dir);
  for (const t of truth.mailAccess) {
    const m = byMailbox.get(t.mailbox)!;
    assert.equal(Date.parse(m.first), Date.parse(t.first), `${t.mailbox} first`);
    assert.equal(Date.parse(m.last), Date.parse(t.last), `${t.mailbox} last`);
    assert.equal(m.confidence, 'high', t.mailbox);
  }
  return { truth, got, byMailbox };
}

test('on the demo server: exactly the mailboxes the ground truth names, with its first and last times, though their owners read them too', () => {
  const { truth, got, byMailbox } = checkAgainstTruth(demo);
  assert.equal(truth.mailAccess.length, 3);
  const [ceo, counsel] = [byMailbox.get(truth.mailAccess[0]!.mailbox)!, byMailbox.get(truth.mailAccess[2]!.mailbox)!];
  assert.deepEqual(ceo.protocols, ['EWS']);
  assert.deepEqual(ceo.ips, ['5.254.43.18']);
  assert.deepEqual(counsel.kinds, ['export']);
  assert.match(counsel.exports[0]!, /aspnet_client\\[^\\]+\.pst$/);
  assert.equal(counsel.downloads.length, 1, 'the export fetched over the web is tied to it');
  // The non-trivial part: the victims' own mail clients reached the same mailboxes over the same days.
  for (const t of truth.mailAccess.slice(0, 2)) {
    const own = proxyLines(demo).filter((l) => l.includes(`Smtp~${t.mailbox}`) && !l.includes('5.254.43.18'));
    assert.ok(own.length > 0, `${t.mailbox}: its owner's own requests are in the logs`);
  }
  // The grant that made EWS impersonation possible.
  assert.ok(got.grants.some((g) => /ApplicationImpersonation/.test(g.permissions)));
  // ProxyLogon's forged MAPI request (for the administrator's SID) names no mailbox: counted apart, not a row.
  const forged = got.unnamed_requests as { protocol: string; ip: string; time: string }[];
  const ssrf = truth.steps.find((x) => x.id === 'proxylogon-ssrf')!;
  assert.deepEqual(forged.map((x) => [x.protocol, x.ip]), [['MAPI', '104.140.114.110']]);
  assert.ok(Date.parse(forged[0]!.time) >= Date.parse(ssrf.time) && Date.parse(forged[0]!.time) < Date.parse(ssrf.time) + 10_000);
});

test('with every intrusion: the ProxyShell export too, and not the mail of the user whose account ProxyNotShell used, read as every day from their desk', () => {
  const { truth, got } = checkAgainstTruth(all);
  assert.deepEqual(truth.mailAccess.map((m) => m.mailbox).sort(), ['administrator@corp.example', 'user007@corp.example', 'user042@corp.example', 'user113@corp.example']);
  assert.ok(Object.keys(got.actors.identities).includes('corp\\user017'), 'the account is tied to the intrusion');
  // Not trivially: the account's owner reads their mail through the proxy over the same days.
  const own = proxyLines(all).filter((l) => l.includes(',CORP\\user017,') && !/167\.99\.168\.251/.test(l));
  assert.ok(own.length > 0, 'the account\'s own requests are in the logs');
});

test('without the intruder\'s addresses (no detections name them) the EWS reads are not listed; --actor-ip brings them back', () => {
  // Critical rules only: ProxyLogon's forged requests name 104.140.114.110, not the shell's address the mail was read from.
  const none = mailAccess(demo, '--level', 'critical');
  // Only changes that open a mailbox stay listed, at medium (the export into aspnet_client stays high).
  assert.deepEqual(none.mailboxes.map((m) => m.mailbox), ['user113@corp.example']);
  const given = mailAccess(demo, '--level', 'critical', '--actor-ip', '5.254.43.18');
  assert.deepEqual(given.mailboxes.map((m) => m.mailbox).sort(), ['user007@corp.example', 'user042@corp.example', 'user113@corp.example']);
  assert.ok(given.mailboxes[0]!.reasons.some((r) => /--actor-ip/.test(r)));
  const bad = spoor('mail-access', demo, '--actor-ip', '5.254.43');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--actor-ip 5\.254\.43: not an IP address/);
});

test('the CSV for notification: one row per mailbox, formula-like values made text', () => {
  const csvFile = join(tmp, 'mailboxes.csv');
  const r = spoor('mail-access', demo, '--mail-csv', csvFile, '--actor-user', '=cmd|calc');
  assert.equal(r.code, 0, r.stderr);
  const rows = parseCsv(readFileSync(csvFile, 'utf8'), { columns: true }) as Record<string, string>[];
  assert.deepEqual(rows.map((x) => x.mailbox).sort(), ['user007@corp.example', 'user042@corp.example', 'user113@corp.example']);
  assert.match(rows[0]!.first_access_utc!, /^2021-03-\d\dT/);
  assert.match(r.stdout, /^mailbox +first \(UTC\)/);
  // A hostile value in the CSV cannot become a formula in a spreadsheet.
  const hostile = join(tmp, 'hostile.csv');
  writeFileSync(join(tmp, 'ual.json'), JSON.stringify({ CreationTime: '2021-08-02T13:32:07', Operation: 'MailItemsAccessed', Workload: 'Exchange', RecordType: 50, MailboxOwnerUPN: '=HYPERLINK("http://x")', ClientIPAddress: '203.0.113.9', UserId: 'a@b' }) + '\n');
  const h = spoor('mail-access', join(tmp, 'ual.json'), '--actor-ip', '203.0.113.9', '--mail-csv', hostile);
  assert.equal(h.code, 0, h.stderr);
  assert.match(readFileSync(hostile, 'utf8'), /\n"'=hyperlink/);
});

test('on the Golden SAML run: the mailbox read through Microsoft Graph, the application and address behind it, and the rules that tie them', () => {
  const golden = join(DATA, 'cloud/otrf-golden-saml-mail-access');
  const got = mailAccess(golden, '--rules', join(DATA, 'sigma/rules/cloud'));
  assert.equal(got.mailboxes.length, 1);
  const m = got.mailboxes[0]!;
  assert.equal(m.mailbox, 'pgustavo@simulandlabs.com');
  assert.equal(m.confidence, 'high');
  assert.deepEqual(m.protocols, ['Microsoft Graph']);
  assert.deepEqual(m.apps, ['SimuLandApp (5a95e683-08ad-424e-a441-1d1aec52c02c)']);
  assert.deepEqual(m.ips, ['1.2.3.4']);
  assert.deepEqual(m.folders, ['\\Inbox']);
  assert.equal(m.items, 7);
  assert.equal(m.first, '2021-08-02T13:32:07.000Z');
  assert.equal(m.records, 1, 'the same record from OfficeActivity and CloudAppEvents counts once');
  assert.ok(m.reasons.some((r) => /^by application SimuLandApp, which the intrusion changed: Credentials Added/.test(r)), m.reasons.join('\n'));
  assert.ok(got.grants.some((g) => g.what === 'Add delegated permission grant' && /Mail\.ReadWrite/.test(g.permissions)));
});

test('cmdlet parameters and request mailboxes as Exchange writes them', () => {
  assert.deepEqual([...parseParameters('{-Mailbox "a@b.example" -Force -ContentFilter "(Subject -eq \'x\')" -FilePath \\\\h\\c$\\x.pst}')], [['mailbox', 'a@b.example'], ['force', ''], ['contentfilter', "(Subject -eq 'x')"], ['filepath', '\\\\h\\c$\\x.pst']]);
  assert.deepEqual(cmdletsInText('Set-Mailbox -Identity user042 -ProhibitSendQuota 9GB'), [], 'a quota change opens no mailbox');
  assert.equal(cmdletsInText('New-InboxRule -Mailbox ceo -Name x -ForwardTo evil@example.net; Get-Mailbox')[0]!.detail, 'rule x: ForwardTo evil@example.net');
  assert.equal(cmdletsInText('Set-Mailbox -Identity ceo -ForwardingSmtpAddress smtp:evil@example.net')[0]!.kind, 'forwarding');
  assert.equal(requestMailbox('Smtp~CEO@corp.example', '/EWS/Exchange.asmx', ''), 'ceo@corp.example');
  assert.equal(requestMailbox('ServerInfo~exch01/ews/exchange.asmx?#', '/ecp/y.js', ''), '', 'a forged request names a server, not a mailbox');
  assert.equal(requestMailbox(undefined, '/Microsoft-Server-ActiveSync/default.eas', 'Cmd=Sync&User=user001&DeviceId=X'), 'user001');
  // The unified audit log's forms of an address compare equal to a web log's.
  assert.deepEqual(['1.2.3.4:52144', '[2001:db8::1]:443', '::ffff:1.2.3.4', '2001:DB8::1'].map(normaliseIp), ['1.2.3.4', '2001:db8::1', '1.2.3.4', '2001:db8::1']);
  // A bare number is no address (ipaddr.js would read '5' as 0.0.0.5).
  assert.equal(normaliseIp('5'), '5');
});

test('mail a mailbox sent from the intruder\'s address, as Message Tracking logs its submission (the layout and a line of a real server\'s log)', () => {
  // The header and the second line are those of a real Exchange 2016 log (shared docs/exchange-logs-artefacts.md), its client address the intruder's.
  const dir = join(tmp, 'tracking');
  const header = ['#Software: Microsoft Exchange Server', '#Version: 15.01.2375.007', '#Log-type: Message Tracking Log', '#Date: 2022-09-19T15:02:29.339Z', '#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version'];
  const submitted = (time: string, client: string, to: string) => `${time},fe80::1234:5678:4321:1010,SERVER-HOSTNAME.DOMAIN.TEST,1234:5678:4321:1010%3,SERVER-HOSTNAME,"MDB:12345678-3232-2323-1111-12345679987, Mailbox:33345678-3232-2323-1111-08da9fd00918, Event:63779422, MessageClass:IPM.Note, CreationTime:2022-09-19T15:02:29.211Z, ClientType:MOMT, SubmissionAssistant:MailboxTransportSubmissionEmailAssistant, ServerMdbConnectionId:08DA9806C5B670C1",,STOREDRIVER,RECEIVE,438,<XXX@domain.com>,6a638d20-1e63-493a-80a2-08da9a4ff8da,${to},To,3750222,1,,,MAIL SUBJECT,user.name1@domain.com,user.name1@domain.com,04I: ,Originating,,${client},fe80::1234:4545:3214:1010e%3,S:MailboxDatabaseGuid=12345678-3232-2323-1111-12345679987;S:ItemEntryId=00-00-XXX-00;S:DeliveryPriority=Normal;S:AccountForest=DOMAIN.TEST,Email,12345678-3232-2323-1111-12345679987,15.01.2375.007`;
  spawnSync('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'MSGTRKMS2022091915-1.LOG'), [...header, submitted('2022-09-19T15:02:29.450Z', '95.11.22.33', 'user.name4@gmail.com'), submitted('2022-09-19T15:07:00.000Z', '10.0.0.8', 'user.name2@domain.com')].join('\r\n') + '\r\n');
  const got = mailAccess(dir, '--actor-ip', '95.11.22.33');
  assert.equal(got.mailboxes.length, 1);
  const m = got.mailboxes[0]!;
  assert.equal(m.mailbox, 'user.name1@domain.com');
  assert.deepEqual(m.kinds, ['send']);
  assert.equal(m.first, '2022-09-19T15:02:29.450Z');
  assert.equal(m.last, m.first, 'the mail its owner sent from inside is not the intruder\'s');
  assert.deepEqual(m.sent, ['to user.name4@gmail.com (outside domain.com: user.name4@gmail.com): "MAIL SUBJECT"']);
});

test('mail read from an address that signed in from a country new for its user is listed, low; the user\'s own reading from home is not', () => {
  // Entra ID sign-ins and unified audit log records in Microsoft Sentinel's shapes (SigninLogs, OfficeActivity).
  const dir = join(tmp, 'signins');
  spawnSync('mkdir', ['-p', dir]);
  const signIn = (time: string, ip: string, country: string, result = '0') => ({ Type: 'SigninLogs', TimeGenerated: time, UserPrincipalName: 'amy@contoso.example', IPAddress: ip, Location: country, LocationDetails: JSON.stringify({ city: 'x', countryOrRegion: country }), ResultType: result, AppDisplayName: 'Office 365 Exchange Online', AppId: '00000002-0000-0ff1-ce00-000000000000' });
  const read = (time: string, ip: string, id: string) => ({ Type: 'OfficeActivity', TimeGenerated: time, Operation: 'MailItemsAccessed', OfficeWorkload: 'Exchange', RecordType: '50', OfficeId: id, UserId: 'amy@contoso.example', MailboxOwnerUPN: 'amy@contoso.example', Client_IPAddress: ip, ClientInfoString: 'Client=OWA;Action=ViewInboxPage;', Folders: JSON.stringify([{ Path: '\\Inbox', FolderItems: [{ InternetMessageId: '<a@b>' }] }]), OperationProperties: JSON.stringify([{ Name: 'MailAccessType', Value: 'Bind' }]) });
  const records = [
    signIn('2021-06-01T08:00:00Z', '198.51.100.7', 'US'), signIn('2021-06-02T08:00:00Z', '198.51.100.7', 'US'), signIn('2021-06-03T08:00:00Z', '198.51.100.8', 'US'),
    signIn('2021-06-03T21:00:00Z', '203.0.113.50', 'NL', '50126'), // a failed one says nothing
    signIn('2021-06-04T02:00:00Z', '203.0.113.50', 'NL'),
    read('2021-06-03T08:05:00Z', '198.51.100.8', 'r1'), read('2021-06-04T02:03:00Z', '203.0.113.50', 'r2'), read('2021-06-04T02:09:00Z', '203.0.113.50', 'r3'),
  ];
  writeFileSync(join(dir, 'sentinel.json'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const got = mailAccess(dir);
  assert.equal(got.mailboxes.length, 1);
  const m = got.mailboxes[0]!;
  assert.equal(m.confidence, 'low');
  assert.deepEqual([m.first, m.last, m.records], ['2021-06-04T02:03:00.000Z', '2021-06-04T02:09:00.000Z', 2]);
  assert.deepEqual(m.protocols, ['OWA']);
  assert.match(m.reasons[0]!, /signed in as amy@contoso\.example from NL .* new for this user \(before: US\)/);
});

test('bad audit records: a broken JSON line and a CSV row whose AuditData is not a record are named by file and line and skipped; the records around them still count', () => {
  const dir = join(tmp, 'bad');
  spawnSync('mkdir', ['-p', dir]);
  const ual = (id: string, time: string) => JSON.stringify({ CreationTime: time, Id: id, Operation: 'MailItemsAccessed', Workload: 'Exchange', RecordType: 50, UserId: 'bob@contoso.example', MailboxOwnerUPN: 'bob@contoso.example', ClientIPAddress: '192.0.2.66', ClientInfoString: 'Client=REST;;' });
  writeFileSync(join(dir, 'ual.jsonl'), [ual('a', '2021-06-01T10:00:00'), '{"CreationTime": "2021-06-01T10:01:00", "Operation": ', ual('b', '2021-06-01T10:02:00')].join('\n') + '\n');
  writeFileSync(join(dir, 'purview.csv'), ['CreationDate,UserIds,Operations,AuditData', `2021-06-01T10:03:00,bob@contoso.example,MailItemsAccessed,"${ual('c', '2021-06-01T10:03:00').replace(/"/g, '""')}"`, '2021-06-01T10:04:00,bob@contoso.example,MailItemsAccessed,"[1,2]"', `2021-06-01T10:05:00,bob@contoso.example,MailItemsAccessed,"${ual('d', '2021-06-01T10:05:00').replace(/"/g, '""')}"`].join('\n') + '\n');
  const r = spoor('mail-access', dir, '--actor-ip', '192.0.2.66', '--format', 'jsonl');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /ual\.jsonl:2: a JSON value not closed on its line; skipped/);
  assert.match(r.stderr, /purview\.csv:3: its AuditData is not a JSON object; row skipped/);
  const m = (JSON.parse(r.stdout) as Result).mailboxes;
  assert.deepEqual(m.map((x) => [x.mailbox, x.records, x.first, x.last]), [['bob@contoso.example', 4, '2021-06-01T10:00:00.000Z', '2021-06-01T10:05:00.000Z']]);
});

test('hostile names from the evidence reach the terminal as text: an escape sequence in a mailbox, an application or a detail is shown as \\x1b, never sent', () => {
  const dir = join(tmp, 'escapes');
  spawnSync('mkdir', ['-p', dir]);
  const esc = '\u001b]0;pwned\u0007\u001b[2J';
  writeFileSync(join(dir, 'ual.jsonl'), JSON.stringify({ CreationTime: '2021-06-01T10:00:00', Id: 'e1', Operation: 'New-InboxRule', Workload: 'Exchange', RecordType: 1, UserId: `eve${esc}@contoso.example`, ObjectId: `victim${esc}@contoso.example`, ClientIP: '198.51.100.9', Parameters: [{ Name: 'Mailbox', Value: `victim${esc}@contoso.example` }, { Name: 'Name', Value: `rule${esc}` }, { Name: 'ForwardTo', Value: `x${esc}@evil.example` }] }) + '\n');
  const r = spoor('mail-access', dir, '--actor-ip', '198.51.100.9');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(r.stdout), JSON.stringify(r.stdout));
  assert.match(r.stdout, /victim\\x1b\]0;pwned\\x07\\x1b\[2j@contoso\.example/);
});
