import ipaddr from 'ipaddr.js';
import type { Event } from '../evidence/event.js';
import { valueText } from '../sigma/modifiers.js';
import { type CmdletKind, cmdletsInText, mailboxCmdlet, type MailboxCmdlet, parseParameters } from './cmdlets.js';

/** What was done to a mailbox. */
export type AccessKind = 'read' | 'send' | 'search' | 'download' | CmdletKind;

/** One access to a mailbox (or a request by which one could have been made), as one log record tells it. */
export interface MailAccess {
  time: string;
  /** The mailbox, as the log names it (an address, a user name, or a mailbox GUID); '' when the record names none. */
  mailbox: string;
  kind: AccessKind;
  /** EWS, OWA, MAPI, ActiveSync, PowerShell, Graph, cmdlet … */
  protocol: string;
  /** The client: a user agent, or the unified audit log's ClientInfoString. */
  client?: string;
  appId?: string;
  ip?: string;
  /** Who acted: the authenticated user or the audit record's user. */
  identity?: string;
  folders?: string[];
  /** Items touched, where the log counts them. */
  items?: number;
  /** What a cmdlet did (where an export went …); a sync or bind for MailItemsAccessed. */
  detail?: string;
  /** The log it came from (its channel: IIS, HttpProxy Logs, OfficeActivity …). */
  log?: string;
  /** Where the record is: file and line or record number. */
  file: string;
  where: string;
  /** The audit record's id: the same record exported twice (OfficeActivity and CloudAppEvents) counts once. */
  id?: string;
}

/** An application granted rights to mail or given credentials (Entra ID audit), or the role to export mailboxes. */
export interface MailGrant {
  time: string;
  what: string;
  app: string;
  permissions: string;
  identity?: string;
  file: string;
  where: string;
}

const text = (e: Event, ...names: string[]): string | undefined => {
  for (const n of names) {
    const v = e.get(n);
    const t = valueText(Array.isArray(v) ? v[0] : v);
    if (t !== undefined && t !== '' && t !== '-') return t;
  }
  return undefined;
};
/** A field's values as text (one, or each of an array), leaving out the empty ones and `-` (what logs write for none). */
export function valueTexts(v: unknown): string[] {
  return (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).map((x) => valueText(x)).filter((t): t is string => t !== undefined && t !== '' && t !== '-');
}
const texts = (e: Event, name: string): string[] => valueTexts(e.get(name));

/**
 * An address as one form for comparing: the unified audit log writes `1.2.3.4:52144`, `[2001:db8::1]:443`
 * or `::ffff:1.2.3.4` for what a web log writes `1.2.3.4`. Text that is no address is kept as it is.
 */
export function normaliseIp(text: string | undefined): string | undefined {
  if (!text) return text;
  const t = text.trim().replace(/^\[([^\]]+)\](?::\d+)?$/, '$1').replace(/^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/, '$1');
  return ipaddr.IPv4.isValidFourPartDecimal(t) || ipaddr.IPv6.isValid(t) ? ipaddr.process(t).toString() : t;
}

/** The web endpoints through which a mailbox is read, by path (lower case). */
const MAIL_ENDPOINTS: [RegExp, string][] = [
  [/^\/ews\//, 'EWS'],
  [/^\/mapi\//, 'MAPI'],
  [/^\/microsoft-server-activesync/, 'ActiveSync'],
  [/^\/rpc\//, 'RPC over HTTP'],
  [/^\/api\//, 'REST'],
  [/^\/owa\/(?!auth\/|healthcheck)/, 'OWA'],
];

/** The mailbox a web request names: the anchor mailbox HttpProxy routes by, or the URL's. */
export function requestMailbox(anchor: string | undefined, stem: string, query: string): string {
  if (anchor) {
    const m = /^(?:smtp[~:]|mailboxguidwithdomain~|externaldirectoryobjectid~|sid~|upn~)(.+)$/i.exec(anchor);
    if (m) return m[1]!.toLowerCase();
    if (/@/.test(anchor) && !/^serverinfo~/i.test(anchor)) return anchor.toLowerCase();
  }
  const owa = /^\/owa\/([^/@]+@[^/]+)\//i.exec(stem);
  if (owa) return decodeURIComponent(owa[1]!).toLowerCase();
  const q = new URLSearchParams(query.replace(/^\?/, ''));
  const fromQuery = q.get('MailboxId') ?? q.get('mailboxId') ?? q.get('User') ?? q.get('user');
  return fromQuery ? fromQuery.toLowerCase() : '';
}

function webAccess(e: Event, channel: string, file: string, where: string): MailAccess | undefined {
  const proxy = channel === 'HttpProxy Logs';
  const stem = text(e, proxy ? 'UrlStem' : 'cs-uri-stem') ?? '';
  const lower = stem.toLowerCase();
  const query = text(e, proxy ? 'UrlQuery' : 'cs-uri-query') ?? '';
  const time = text(e, 'TimeCreated_SystemTime') ?? '';
  const base = { time, ip: normaliseIp(text(e, proxy ? 'ClientIpAddress' : 'c-ip')), client: text(e, proxy ? 'UserAgent' : 'cs(User-Agent)'), identity: text(e, proxy ? 'AuthenticatedUser' : 'cs-username'), log: channel, file, where };
  // An export fetched over the web: a .pst (or any export) served from a web folder.
  if (/\.pst$/i.test(lower)) return { ...base, mailbox: '', kind: 'download', protocol: 'HTTP', detail: stem };
  const anchor = proxy ? text(e, 'AnchorMailbox') : undefined;
  // ProxyLogon's forgery: a ServerInfo~ anchor names the back-end path the request is sent on to.
  const forged = anchor && /^serverinfo~[^/]*(\/[^?#]*)/i.exec(anchor)?.[1]?.toLowerCase();
  const endpoint = MAIL_ENDPOINTS.find(([re]) => re.test(forged || lower));
  if (!endpoint) return undefined;
  if (forged) return { ...base, mailbox: '', kind: 'read', protocol: endpoint[1], detail: `forged to the back end's ${forged} through a ServerInfo~ anchor (${stem})` };
  return { ...base, mailbox: requestMailbox(anchor, stem, query), kind: 'read', protocol: endpoint[1] };
}

function cmdletAccess(c: MailboxCmdlet, e: Event, time: string, identity: string | undefined, protocol: string, file: string, where: string): MailAccess {
  return { time, mailbox: c.mailbox.toLowerCase(), kind: c.kind, protocol, identity, detail: `${c.cmdlet}${c.detail ? ` ${c.detail}` : ''}`, file, where, ip: normaliseIp(text(e, 'ClientIP', 'ClientIPAddress')) };
}

/** MSExchange Management event 1: the cmdlet, its parameters, the caller, by position. */
function managementAccess(e: Event, file: string, where: string): MailAccess[] {
  const data = texts(e, 'Data');
  if (data.length < 2) return [];
  const c = mailboxCmdlet(data[0]!, parseParameters(data[1]!));
  return c ? [cmdletAccess(c, e, text(e, 'TimeCreated_SystemTime') ?? '', data[2], 'Exchange cmdlet', file, where)] : [];
}

/**
 * A message a mailbox sent, as Message Tracking logs its submission (STOREDRIVER RECEIVE): the sender,
 * the recipients, and the address of the client that submitted it (original-client-ip), which ties
 * mail sent from the intruder's session to them.
 */
function trackingAccess(e: Event, file: string, where: string): MailAccess | undefined {
  if (text(e, 'event-id') !== 'RECEIVE' || text(e, 'source') !== 'STOREDRIVER') return undefined;
  const sender = (text(e, 'sender-address') ?? '').toLowerCase();
  if (!sender) return undefined;
  const recipients = (text(e, 'recipient-address') ?? '').toLowerCase().split(';').filter(Boolean);
  const domain = sender.slice(sender.indexOf('@') + 1);
  const outside = recipients.filter((r) => !r.endsWith(`@${domain}`));
  const subject = text(e, 'message-subject');
  return {
    time: text(e, 'date-time', 'TimeCreated_SystemTime') ?? '', mailbox: sender, kind: 'send', protocol: 'mail submission', ip: normaliseIp(text(e, 'original-client-ip')),
    detail: `to ${recipients.join(', ')}${outside.length ? ` (outside ${domain}: ${outside.join(', ')})` : ''}${subject ? `: "${subject}"` : ''}`, file, where,
  };
}

/** The unified audit log's mailbox operations. */
function auditAccess(e: Event, file: string, where: string): MailAccess[] {
  const op = text(e, 'Operation') ?? '';
  const time = text(e, 'TimeCreated_SystemTime') ?? '';
  const id = text(e, 'Id');
  const appId = text(e, 'ClientAppId', 'AppId');
  const client = text(e, 'ClientInfoString');
  const ip = normaliseIp(text(e, 'ClientIPAddress', 'ClientIP', 'ActorIpAddress'));
  const identity = text(e, 'UserId');
  const mailbox = (text(e, 'MailboxOwnerUPN') ?? '').toLowerCase();
  const base = { time, id, appId, client, ip, identity, file, where };
  const protocol = auditProtocol(client, text(e, 'AppId'));
  switch (op) {
    case 'MailItemsAccessed': {
      const values = texts(e, 'OperationProperties.Value');
      const props = new Map(texts(e, 'OperationProperties.Name').map((n, i) => [n, values[i]]));
      const folders = [...new Set(texts(e, 'Folders.Path'))];
      const itemIds = texts(e, 'Folders.FolderItems.InternetMessageId');
      const count = Number(text(e, 'OperationCount'));
      return [{ ...base, mailbox, kind: 'read', protocol, folders, items: Number.isFinite(count) && count > 0 ? count : itemIds.length || undefined, detail: props.get('MailAccessType') ? `${props.get('MailAccessType')!.toLowerCase()}` : undefined }];
    }
    case 'Send':
    case 'SendAs':
    case 'SendOnBehalf':
      return [{ ...base, mailbox: mailbox || (identity ?? '').toLowerCase(), kind: 'send', protocol, detail: text(e, 'Item.Subject') }];
    case 'SearchQueryInitiatedExchange':
      return [{ ...base, mailbox: mailbox || (identity ?? '').toLowerCase(), kind: 'search', protocol, detail: text(e, 'QueryText') }];
    default: {
      // Admin cmdlets (New-InboxRule, Add-MailboxPermission, Set-Mailbox …) with their Parameters as Name/Value pairs.
      const names = texts(e, 'Parameters.Name');
      const values = texts(e, 'Parameters.Value');
      if (!names.length) return [];
      const c = mailboxCmdlet(op, new Map(names.map((n, i) => [n.toLowerCase(), values[i] ?? ''])));
      if (!c) return [];
      return [{ ...cmdletAccess(c, e, time, identity, 'Exchange cmdlet', file, where), id, appId, client, ip, mailbox: (c.mailbox || text(e, 'ObjectId') || '').toLowerCase() }];
    }
  }
}

/** How a unified audit log client reached the mailbox: Graph (its app id), REST, EWS, MAPI … from ClientInfoString. */
function auditProtocol(client: string | undefined, resourceAppId: string | undefined): string {
  if (resourceAppId === '00000003-0000-0000-c000-000000000000') return 'Microsoft Graph';
  const c = /Client=([^;]+)/i.exec(client ?? '')?.[1];
  return c ? c.replace(/^WebServices$/i, 'EWS').replace(/^OWA$/i, 'OWA') : 'unified audit log';
}

/** Entra ID audit records that give an application rights to mail, or credentials to use them. */
const GRANT_OPERATIONS = /^(add delegated permission grant|consent to application|add app role assignment to service principal|update application . certificates and secrets management|add service principal credentials)$/i;

function grantOf(e: Event, file: string, where: string): MailGrant | undefined {
  const op = text(e, 'OperationName') ?? '';
  if (!GRANT_OPERATIONS.test(op)) return undefined;
  const targets = texts(e, 'TargetResources.displayName');
  const scope = text(e, 'DelegatedPermissionGrant.Scope', 'AppRole.Value', 'ConsentAction.Permissions') ?? '';
  const keys = text(e, 'KeyDescription');
  return { time: text(e, 'TimeCreated_SystemTime') ?? '', what: op, app: targets.join(', '), permissions: scope || (keys ? 'credentials added' : ''), identity: text(e, 'InitiatedBy.user.userPrincipalName', 'InitiatedBy.app.displayName'), file, where };
}

/** What one event tells of mail access: accesses, grants, and application names by id (to name the apps in accesses). */
export interface EventMailFacts {
  accesses: MailAccess[];
  grant?: MailGrant;
  appNames?: [string, string][];
  signIn?: SignIn;
}

/** A successful sign-in: who, from where (address and country), when. */
export interface SignIn {
  time: string;
  user: string;
  ip: string;
  country: string;
}

const NONE: EventMailFacts = { accesses: [] };

/** The mail access an event records, if any. */
export function mailFactsOf(e: Event, file: string, where: string): EventMailFacts {
  const channel = text(e, 'Channel') ?? '';
  switch (channel) {
    case 'IIS':
    case 'HttpProxy Logs': {
      const a = webAccess(e, channel, file, where);
      return a ? { accesses: [a] } : NONE;
    }
    case 'MSExchange Management':
      return { accesses: managementAccess(e, file, where) };
    case 'Message Tracking Log': {
      const a = trackingAccess(e, file, where);
      return a ? { accesses: [a] } : NONE;
    }
    case 'Microsoft-Windows-Sysmon/Operational':
    case 'Security': {
      // Exchange's cmdlets run from a shell (PowerShell with the snap-in, as HAFNIUM did).
      const line = text(e, 'CommandLine');
      if (!line || !/mailbox|inboxrule|compliancesearch|managementroleassignment/i.test(line)) return NONE;
      const time = text(e, 'TimeCreated_SystemTime') ?? '';
      return { accesses: cmdletsInText(line).map((c) => cmdletAccess(c, e, time, text(e, 'User', 'SubjectUserName'), 'PowerShell (command line)', file, where)) };
    }
    case 'OfficeActivity':
      return { accesses: auditAccess(e, file, where) };
    case 'CloudAppEvents': {
      const names: [string, string][] = [];
      const app = text(e, 'OAuthAppId');
      const name = text(e, 'AccountDisplayName');
      if (app && name && text(e, 'AccountObjectId') === app) names.push([app, name]);
      // Defender XDR keeps the unified audit log's record in RawEventData: read it as one.
      const raw: Event = { get: (n) => (n === 'TimeCreated_SystemTime' ? e.get(n) : e.get(`RawEventData.${n}`)), values: () => [] };
      return { accesses: text(raw, 'Operation') ? auditAccess(raw, file, where) : [], appNames: names };
    }
    case 'AuditLogs': {
      const g = grantOf(e, file, where);
      return g ? { accesses: [], grant: g } : NONE;
    }
    default:
      if (/SignInLogs$|^SigninLogs$/.test(channel)) {
        const app = text(e, 'AppId');
        const name = text(e, 'AppDisplayName', 'ServicePrincipalName');
        const user = text(e, 'UserPrincipalName');
        const ip = normaliseIp(text(e, 'IPAddress'));
        const country = text(e, 'LocationDetails.countryOrRegion', 'Location.countryOrRegion', 'Location');
        const ok = text(e, 'ResultType') === '0';
        return {
          accesses: [],
          ...(app && name ? { appNames: [[app, name]] as [string, string][] } : {}),
          ...(ok && user && ip && country ? { signIn: { time: text(e, 'TimeCreated_SystemTime') ?? '', user: user.toLowerCase(), ip, country } } : {}),
        };
      }
      return NONE;
  }
}
