import { createHash } from 'node:crypto';
import type { Random } from './random.js';
import type { Request } from './exchange-logs.js';

/** Browsers, Outlook, phones and Exchange's own probes, as their user agents read. */
const UA = {
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 Safari/537.36 Edg/88.0.705.81',
  firefox: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0',
  outlook: 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13801; Pro)',
  iphone: 'Apple-iPhone12C1/1805.228',
  android: 'Android-Mail/2021.01.31.356427011.Release',
  probe: 'AMProbe/Local/ClientAccess',
  winrm: 'Microsoft WinRM Client',
};

/** The people and devices of the simulated organisation. */
export interface Population {
  domain: string;
  netbios: string;
  users: number;
}

/** A user's mailbox GUID: Outlook names its own mailbox by it in every MAPI request. */
const mailboxGuid = (n: number) => {
  const h = createHash('md5').update(`mailbox ${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};
const userName = (n: number) => `user${String(n).padStart(3, '0')}`;
const internalIp = (n: number) => `10.1.${(n >> 8) & 255}.${(n & 255) || 1}`;
const mobileIp = (n: number) => (n % 2 ? `198.51.100.${(n % 250) + 2}` : `203.0.113.${(n % 250) + 2}`);

/** One ordinary request to the server at a time: mail clients, phones, OWA, admins and health probes. */
export function backgroundRequest(rng: Random, time: number, pop: Population): Request {
  const n = rng.int(1, pop.users + 1);
  const user = `${pop.netbios}\\${userName(n)}`;
  const smtp = `${userName(n)}@${pop.domain}`;
  const taken = rng.int(3, 400);
  const base = { time, user, clientIp: internalIp(n), timeTaken: taken, query: '', status: 200 };
  switch (rng.weighted([['mapi', 30], ['ews', 14], ['eas', 16], ['owa', 18], ['owaStatic', 6], ['autodiscover', 8], ['oab', 3], ['ecp', 1], ['probe', 3], ['powershell', 1]] as const)) {
    case 'mapi':
      return { ...base, method: 'POST', stem: '/mapi/emsmdb/', query: `MailboxId=${mailboxGuid(n)}@${pop.domain}`, userAgent: UA.outlook, protocol: 'Mapi', anchorMailbox: `MailboxGuidWithDomain~${mailboxGuid(n)}@${pop.domain}` };
    case 'ews':
      return { ...base, method: 'POST', stem: '/EWS/Exchange.asmx', userAgent: UA.outlook, protocol: 'Ews', anchorMailbox: `Smtp~${smtp}` };
    case 'eas':
      return { ...base, method: 'POST', stem: '/Microsoft-Server-ActiveSync/default.eas', query: `Cmd=${rng.pick(['Sync', 'Ping', 'FolderSync'])}&User=${userName(n)}&DeviceId=${rng.hex(16).toUpperCase()}&DeviceType=${n % 3 ? 'iPhone' : 'Android'}`, userAgent: n % 3 ? UA.iphone : UA.android, clientIp: mobileIp(n), protocol: 'Eas', authType: 'Basic', anchorMailbox: `Smtp~${smtp}` };
    case 'owa':
      return { ...base, method: rng.pick(['GET', 'POST']), stem: rng.pick(['/owa/', '/owa/service.svc', '/owa/sessiondata.ashx']), query: rng.pick(['', 'action=GetItem&app=Mail', 'action=FindItem&app=Mail', 'action=GetAccessTokenforResource&app=Mail']), userAgent: rng.pick([UA.edge, UA.firefox]), protocol: 'Owa', authType: 'Cafe', anchorMailbox: `Smtp~${smtp}` };
    case 'owaStatic':
      return { ...base, user: '', method: 'GET', stem: rng.pick(['/owa/auth/15.1.2176/themes/resources/favicon.ico', '/owa/auth/15.1.2176/themes/resources/segoeui-regular.ttf', '/owa/auth/logon.aspx']), query: rng.pick(['', 'url=https%3a%2f%2fmail.example%2fowa%2f&reason=0']), userAgent: rng.pick([UA.edge, UA.firefox]), protocol: undefined };
    case 'autodiscover':
      return { ...base, method: 'POST', stem: '/Autodiscover/Autodiscover.xml', userAgent: UA.outlook, protocol: 'Autodiscover', anchorMailbox: `Smtp~${smtp}` };
    case 'oab':
      return { ...base, method: 'GET', stem: `/OAB/${rng.guid()}/oab.xml`, userAgent: UA.outlook, protocol: 'Oab', status: rng.pick([200, 304]) };
    case 'ecp':
      return { ...base, user: `${pop.netbios}\\exadmin`, method: rng.pick(['GET', 'POST']), stem: rng.pick(['/ecp/', '/ecp/DDI/DDIService.svc/GetList']), query: rng.pick(['', `schema=MailboxService&msExchEcpCanary=${rng.hex(40)}`]), userAgent: UA.edge, clientIp: '10.1.0.5', protocol: 'Ecp', anchorMailbox: `Smtp~exadmin@${pop.domain}` };
    case 'probe':
      return { ...base, user: '', method: 'GET', stem: rng.pick(['/owa/healthcheck.htm', '/ecp/healthcheck.htm', '/EWS/healthcheck.htm', '/Autodiscover/healthcheck.htm']), userAgent: UA.probe, clientIp: '127.0.0.1', protocol: undefined };
    case 'powershell':
      return { ...base, user: `${pop.netbios}\\HealthMailbox${rng.hex(7)}`, method: 'POST', stem: '/powershell', query: 'serializationLevel=Full;ExchClientVer=15.1.2176.2;clientApplication=ActiveMonitor;TargetServer=;PSVersion=5.1.14393.4283', userAgent: UA.winrm, clientIp: '127.0.0.1', protocol: 'PowerShell' };
  }
}
