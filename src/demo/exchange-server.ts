import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { logon, processCreate } from '../evidence/evtx/sample-events.js';
import { type SampleEvent, writeEvtx } from '../evidence/evtx/writer.js';
import { ecpServerLine, ECP_FIELDS, exchangeHeader, httpProxyLine, HTTPPROXY_FIELDS, iisHeader, iisLine, OAB_FIELDS, oabGeneratorLine, type Request, type Server, trackingLine, TRACKING_FIELDS } from './exchange-logs.js';
import { type Emit, type EventLog, type Evidence, type Intrusion, intrusionSteps, mgmtEvent, WEB } from './exchange-intrusion.js';
import { backgroundRequest, type Population } from './exchange-traffic.js';
import { LogFiles } from './log-writer.js';
import { Random } from './random.js';

export interface DemoOptions {
  dir: string;
  /** About how many bytes of logs to write (background traffic fills it). */
  bytes: number;
  seed: number;
  intrusions: readonly Intrusion[];
  /** When the logs start (ms since 1970), and over how many days they run. */
  start: number;
  days: number;
}

export interface GroundTruth {
  generator: string;
  seed: number;
  server: Server;
  intrusions: Intrusion[];
  /** Every planted step with where its traces are (paths relative to the evidence folder, '/'-separated). */
  steps: { id: string; description: string; time: string; cves: string[]; techniques: string[]; evidence: Evidence[]; foundBy?: 'mail-access' }[];
  /** The mailboxes the intruder reached, with the first and last access (what spoor mail-access must find). */
  mailAccess: { mailbox: string; how: string; step: string; first: string; last: string }[];
}

export const DEMO_SERVER: Server = { host: 'EXCH01', fqdn: 'EXCH01.corp.example', ip: '10.1.0.20', build: '15.1.2176.2' };
const POPULATION: Population = { domain: 'corp.example', netbios: 'CORP', users: 300 };

const EX = 'Program Files/Microsoft/Exchange Server/V15';
const EVTX_FILES: Record<EventLog, string> = {
  Application: 'Application.evtx',
  Security: 'Security.evtx',
  Sysmon: 'Microsoft-Windows-Sysmon%4Operational.evtx',
  'MSExchange Management': 'MSExchange Management.evtx',
};
const EVTX_DIR = 'Windows/System32/winevt/Logs';

/** The files an Exchange 2016 install has in its web folders, which a scan must leave alone. */
const STOCK_PAGES: Record<string, string> = {
  [`${WEB.owaAuth}/logon.aspx`]: '<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.Logon" %>\r\n<!DOCTYPE html>\r\n<html><head><title>Outlook</title></head><body></body></html>\r\n',
  [`${WEB.owaAuth}/logoff.aspx`]: '<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.Logoff" %>\r\n',
  [`${WEB.owaAuth}/errorFE.aspx`]: '<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.ErrorFE" %>\r\n',
  [`${WEB.owaAuth}/ExpiredPassword.aspx`]: '<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.ExpiredPassword" %>\r\n',
  [`${WEB.owaAuth}/frowny.aspx`]: '<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.Frowny" %>\r\n',
  [`${WEB.owaAuth}/signout.aspx`]: '<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.SignOut" %>\r\n',
  [`${WEB.owaAuth}/OutlookCN.aspx`]: '<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.OutlookCN" %>\r\n',
  [`${WEB.owaAuth}/RedirSuiteServiceProxy.aspx`]: '<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.RedirSuiteServiceProxy" %>\r\n',
  'inetpub/wwwroot/iisstart.htm': '<!DOCTYPE html><html><head><title>IIS Windows Server</title></head><body></body></html>\r\n',
  'inetpub/wwwroot/aspnet_client/system_web/4_0_30319/.placeholder': '',
};

const pad = (n: number) => String(n).padStart(2, '0');
const ymd = (t: number) => { const d = new Date(t); return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`; };
const hourOf = (t: number) => ymd(t) + pad(new Date(t).getUTCHours());

/**
 * Writes the evidence folder of a simulated Exchange 2016 server (as collected off its C: drive):
 * IIS and Exchange logs with ordinary traffic of a few hundred users, Windows event logs, the web
 * folders, and the chosen intrusions planted among them, with a ground truth of where each step left
 * its traces. The same seed writes the same folder.
 */
export function generateExchangeServer(o: DemoOptions): GroundTruth {
  const rng = new Random(o.seed);
  const s = DEMO_SERVER;
  const files = new LogFiles(o.dir);
  const events: Record<EventLog, { e: SampleEvent; evidence?: { file: string; record: number } }[]> = { Application: [], Security: [], Sysmon: [], 'MSExchange Management': [] };
  const shellName = rng.pick(['RedirSuiteServerProxy', 'OutlookEN', 'errorEE', 'supp0rt', 'discover']) + rng.hex(4);

  const iis = (t: number) => files.get(`inetpub/logs/LogFiles/W3SVC1/u_ex${ymd(t).slice(2)}.log`, () => iisHeader(t));
  const proxy = (t: number, protocol: string) => files.get(`${EX}/Logging/HttpProxy/${protocol}/HttpProxy_${hourOf(t)}-1.LOG`, () => exchangeHeader(s, 'HttpProxy Logs', t, HTTPPROXY_FIELDS));
  const ecpLog = (t: number) => files.get(`${EX}/Logging/ECP/Server/ECPServer${ymd(t)}-1.LOG`, () => exchangeHeader(s, 'ECP Server Log', t, ECP_FIELDS, '15.0.0.0'));
  const oabLog = (t: number) => files.get(`${EX}/Logging/OABGeneratorLog/OABGenerator${ymd(t)}-1.LOG`, () => exchangeHeader(s, 'OABGenerator Log', t, OAB_FIELDS));
  const tracking = (t: number) => files.get(`${EX}/TransportRoles/Logs/MessageTracking/MSGTRK${ymd(t)}-1.LOG`, () => exchangeHeader(s, 'Message Tracking Log', t, TRACKING_FIELDS));

  const emit: Emit = {
    server: s,
    domain: POPULATION.domain,
    request(r: Request): Evidence[] {
      const f = iis(r.time);
      const out: Evidence[] = [{ file: f.name, line: f.write(iisLine(s, r)) }];
      if (r.protocol) {
        const p = proxy(r.time, r.protocol);
        out.push({ file: p.name, line: p.write(httpProxyLine(s, r, rng.guid(), `exch01.${POPULATION.domain}`)) });
      }
      return out;
    },
    ecp(time, cmd, url) {
      const f = ecpLog(time);
      return { file: f.name, line: f.write(ecpServerLine(s, time, cmd, url, rng.guid())) };
    },
    oab(time, level, message) {
      const f = oabLog(time);
      return { file: f.name, line: f.write(oabGeneratorLine(time, level, message)) };
    },
    event(log, e) {
      const evidence = { file: `${EVTX_DIR}/${EVTX_FILES[log]}`, record: 0 };
      events[log].push({ e, evidence });
      return evidence;
    },
    file(path, content, time) {
      mkdirSync(dirname(join(o.dir, path)), { recursive: true });
      writeFileSync(join(o.dir, path), content);
      utimesSync(join(o.dir, path), time / 1000, time / 1000);
      return { file: path };
    },
  };

  // Installed with the last CU, some months before.
  for (const [path, content] of Object.entries(STOCK_PAGES)) emit.file(path, content, Date.UTC(2020, 11, 15, 9, 30));
  mkdirSync(join(o.dir, 'ProgramData/Microsoft/Windows'), { recursive: true });

  // How many requests fill the size asked for: measured on a sample, so that traffic spans the days given.
  const probe = new Random(o.seed ^ 0x5eed);
  let sampleBytes = 0;
  for (let i = 0; i < 500; i++) {
    const r = backgroundRequest(probe, o.start, POPULATION);
    sampleBytes += iisLine(s, r).length + 2 + (r.protocol ? httpProxyLine(s, r, probe.guid(), 'x').length + 2 : 0);
  }
  const perRequest = sampleBytes / 500 + 30; // ECP, OAB and tracking lines besides
  const requests = Math.max(200, Math.floor(o.bytes / perRequest));
  const span = o.days * 86_400_000;
  const gap = span / requests;

  const intrusionStart = o.start + Math.floor(span * 0.55);
  const steps = o.intrusions.flatMap((k) => intrusionSteps(k, s, shellName)).map((st) => ({ step: st, time: intrusionStart + st.at * 1000 })).sort((a, b) => a.time - b.time);
  const truth: GroundTruth = { generator: 'spoor demo generate', seed: o.seed, server: s, intrusions: [...o.intrusions], steps: [], mailAccess: [] };
  let nextStep = 0;
  const runStepsUntil = (t: number) => {
    while (nextStep < steps.length && steps[nextStep]!.time <= t) {
      const { step, time } = steps[nextStep++]!;
      truth.steps.push({ id: step.id, description: step.description, time: new Date(time).toISOString(), cves: step.cves, techniques: step.techniques, evidence: step.run(emit, time), ...(step.foundBy ? { foundBy: step.foundBy } : {}) });
      for (const m of step.mailboxes ?? []) truth.mailAccess.push({ mailbox: m.mailbox, how: m.how, step: step.id, first: new Date(time + m.from * 1000).toISOString(), last: new Date(time + m.to * 1000).toISOString() });
    }
  };

  let hour = '';
  let day = '';
  for (let i = 0; i < requests; i++) {
    const t = o.start + Math.floor(i * gap + rng.next() * gap);
    runStepsUntil(t);
    const h = hourOf(t);
    if (h !== hour) {
      // Logs roll over by the hour (HttpProxy) and the day (the rest): finished ones are closed.
      files.closeWhere((p) => p.includes('/HttpProxy/') && !p.includes(`_${h}-`));
      if (h.slice(0, 8) !== day) {
        day = h.slice(0, 8);
        files.closeWhere((p) => !p.includes('/HttpProxy/') && !p.includes(day) && !p.includes(`u_ex${day.slice(2)}`));
        dailyBackground(emit, rng, t, events);
      }
      hour = h;
      hourlyBackground(emit, rng, t);
    }
    emit.request(backgroundRequest(rng, t, POPULATION));
    if (rng.next() < 0.03) tracking(t).write(trackingLine(s, t, rng.pick(['RECEIVE', 'DELIVER', 'SEND']), rng.pick(['SMTP', 'STOREDRIVER']), `${rng.hex(12)}@corp.example`, `user${rng.int(100, 400)}@corp.example`, `user${rng.int(100, 400)}@corp.example`, rng.pick(['Weekly report', 'Re: budget', 'Meeting notes', 'Invoice 2021-03']), rng.int(2000, 90000)));
  }
  runStepsUntil(Infinity);
  files.closeAll();

  // Event logs: each in time order, so a planted event's record number is its place in that order.
  for (const [log, list] of Object.entries(events) as [EventLog, (typeof events)[EventLog]][]) {
    list.sort((a, b) => a.e.time - b.e.time);
    list.forEach((x, i) => x.evidence && (x.evidence.record = i + 1));
    mkdirSync(join(o.dir, EVTX_DIR), { recursive: true });
    writeEvtx(join(o.dir, EVTX_DIR, EVTX_FILES[log]), list.map((x) => x.e));
  }
  writeFileSync(join(o.dir, 'ground-truth.json'), `${JSON.stringify(truth, null, 2)}\n`);
  return truth;
}

/** Once an hour: the OAB generator's run, an administrator's look at mailboxes in ECP. */
function hourlyBackground(emit: Emit, rng: Random, t: number): void {
  emit.oab(t + 60_000, 'Information', `Download completed for offline address book '\\Default Offline Address Book' to 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\\OAB\\${rng.guid()}\\oab.xml'.`);
  if (rng.next() < 0.5) emit.ecp(t + 120_000, rng.pick(['Get-Mailbox', 'Get-InboxRule', 'Get-MailboxStatistics', 'Get-MessageTrackingLog']), '/ecp/DDI/DDIService.svc/GetList?schema=MailboxService&msExchEcpCanary=x');
}

/** Once a day: logons, service activity, maintenance processes, and an administrator's cmdlets. */
function dailyBackground(emit: Emit, rng: Random, t: number, events: Record<EventLog, { e: SampleEvent }[]>): void {
  const s = emit.server;
  for (let i = 0; i < 40; i++) {
    const at = { host: s.fqdn, time: t + i * 1_800_000 + rng.int(0, 60_000) };
    events.Security.push({ e: logon(at, rng.pick(['svc_backup', 'HealthMailbox0d3c2f1', 'exadmin']), rng.pick(['10.1.0.5', '10.1.0.12', '127.0.0.1']), 3) });
    events.Sysmon.push({ e: processCreate(at, 'C:\\Windows\\System32\\svchost.exe', 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p', 'C:\\Windows\\System32\\services.exe', 'NT AUTHORITY\\SYSTEM', 900 + i) });
    events.Application.push({
      e: {
        provider: 'MSExchange ADAccess', providerGuid: '00000000-0000-0000-0000-000000000000', eventId: 2080, level: 4, task: 6, keywords: 0x80000000000000n,
        time: at.time + 500, processId: 3120, threadId: 41, channel: 'Application', computer: s.fqdn,
        data: [['', 'Process MSExchangeHMHost.exe (PID=3120). Exchange Active Directory Provider has discovered the following servers with the following characteristics: DC01.corp.example CDG 1 7 7 1 0 1 1 7 1']],
      },
    });
  }
  // An administrator at work: ordinary cmdlets, and a URL change that is a scan's to mention, not to alarm about.
  for (const [cmd, params] of [['Get-Mailbox', '-ResultSize "Unlimited"'], ['Get-MailboxDatabase', '-Status'], ['Set-Mailbox', '-Identity "user042" -ProhibitSendQuota "9GB"']] as const) {
    events['MSExchange Management'].push({ e: mgmtEvent(s, t + rng.int(8, 17) * 3_600_000, cmd, params) });
  }
  if (rng.next() < 0.5) emit.ecp(t + 10 * 3_600_000, "Set-OwaVirtualDirectory.ExternalUrl='https://mail.corp.example/owa'.Identity='EXCH01\\owa (Default Web Site)'", '/ecp/DDI/DDIService.svc/SetObject?schema=OWAVirtualDirectory&msExchEcpCanary=x');
}
