import ipaddr from 'ipaddr.js';
import { EvtxEvent } from '../evidence/event.js';
import type { Detection } from '../hunt/hunt.js';
import { valueText } from '../sigma/modifiers.js';
import { normaliseIp, valueTexts } from './access.js';

/**
 * What ties a session to the intruder: the addresses, identities and applications that detections of
 * the intrusion name (an address that reached a web shell or forged a request, the application given
 * credentials or rights to mail), and those an analyst adds. Each with the reason it is there.
 */
export class Actors {
  readonly ips = new Map<string, string>();
  readonly identities = new Map<string, string>();
  readonly apps = new Map<string, string>();
  /** When the intrusion was first seen (the earliest detection counted): an identity's habits before it are its owner's. */
  firstSeen = '';

  addIp(ip: string, why: string): void {
    const k = normaliseIp(ip)!;
    if (!this.ips.has(k)) this.ips.set(k, why);
  }

  addIdentity(id: string, why: string): void {
    const k = id.toLowerCase();
    if (!this.identities.has(k)) this.identities.set(k, why);
  }

  addApp(app: string, why: string): void {
    const k = app.toLowerCase();
    if (!this.apps.has(k)) this.apps.set(k, why);
  }

  /** Takes what a detection says of the intruder; only detections of level high or critical count, and only from web and cloud logs. */
  addDetection(d: Detection): void {
    if (d.rule.rule.level !== 'high' && d.rule.rule.level !== 'critical') return;
    const source = SOURCES[d.channel] ?? (/SignInLogs$|^SigninLogs$/.test(d.channel) ? SOURCES.SigninLogs : undefined);
    if (!source) return;
    if (d.timestamp && (!this.firstSeen || Date.parse(d.timestamp) < Date.parse(this.firstSeen))) this.firstSeen = d.timestamp;
    const e = new EvtxEvent(d.event);
    const why = `${d.rule.rule.title} (${d.timestamp.slice(0, 19).replace('T', ' ')})`;
    for (const f of source.ips) for (const v of valueTexts(e.get(f))) if (isRemoteAddress(v)) this.addIp(v, why);
    for (const f of source.identities) for (const v of valueTexts(e.get(f))) if (!/^(null|anonymous|nt authority\\system)$/i.test(v)) this.addIdentity(v, why);
    if (source.apps) {
      // The applications changed or granted, not the resource granted on (Microsoft Graph is a target of every grant).
      // Names and types by target, kept aligned (a target without a name is a null in its place).
      const list = (v: unknown) => (Array.isArray(v) ? v : [v]).map((x) => valueText(x));
      const types = list(e.get('TargetResources.type'));
      list(e.get('TargetResources.displayName')).forEach((n, i) => {
        if (n && !MICROSOFT_RESOURCES.has(n.toLowerCase()) && (types[i] === undefined || /application|serviceprincipal/i.test(types[i]!))) this.addApp(n, why);
      });
      for (const f of ['ClientAppId', 'ApplicationId']) for (const v of valueTexts(e.get(f))) this.addApp(v, why);
    }
  }

  /** What a web or mail flow log line of the intruder's holds one of: their addresses, their identities (an account's name alone too). */
  webLiterals(): string[] {
    const names = [...this.identities.keys()].flatMap((id) => [id, id.split('\\').pop()!]);
    return [...new Set([...this.ips.keys(), ...names].filter((l) => l.length >= 3))];
  }
}

const SOURCES: Record<string, { ips: string[]; identities: string[]; apps?: boolean }> = {
  IIS: { ips: ['c-ip'], identities: ['cs-username'] },
  'HttpProxy Logs': { ips: ['ClientIpAddress'], identities: ['AuthenticatedUser'] },
  OfficeActivity: { ips: ['ClientIPAddress', 'ClientIP'], identities: ['UserId'], apps: true },
  AuditLogs: { ips: ['InitiatedBy.user.ipAddress', 'InitiatedBy.app.ipAddress'], identities: ['InitiatedBy.user.userPrincipalName'], apps: true },
  SigninLogs: { ips: ['IPAddress'], identities: ['UserPrincipalName'] },
  CloudAppEvents: { ips: ['IPAddress'], identities: [], apps: true },
};

/** Microsoft's own APIs, which grants name as the resource. */
const MICROSOFT_RESOURCES = new Set(['microsoft graph', 'office 365 exchange online', 'windows azure active directory', 'office 365 management apis', 'microsoft office 365 portal']);

/** An address, and not the server talking to itself (the public ProxyLogon exploit runs on the server, over loopback). */
function isRemoteAddress(v: string): boolean {
  const ip = normaliseIp(v)!;
  return (ipaddr.IPv4.isValidFourPartDecimal(ip) || ipaddr.IPv6.isValid(ip)) && ipaddr.process(ip).range() !== 'loopback';
}
