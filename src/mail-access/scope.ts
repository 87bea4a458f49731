import type { AccessKind, MailAccess, MailGrant, SignIn } from './access.js';
import type { Actors } from './actors.js';
import { isWebPath } from '../exchange/server-files.js';

export type Confidence = 'high' | 'medium' | 'low';
const RANK: Record<Confidence, number> = { low: 0, medium: 1, high: 2 };

/** An access kept in scope, with why it is tied to the intruder. */
export interface ScopedAccess extends MailAccess {
  confidence: Confidence;
  reasons: string[];
  appName?: string;
}

/** One mailbox the intruder reached or may have reached. */
export interface MailboxScope {
  mailbox: string;
  first: string;
  last: string;
  confidence: Confidence;
  kinds: AccessKind[];
  protocols: string[];
  clients: string[];
  apps: string[];
  ips: string[];
  identities: string[];
  folders: string[];
  /** Items touched, summed over the records that count them; undefined when none does. */
  items?: number;
  exports: string[];
  /** Mail sent from the mailbox in the intruder's sessions: to whom (the first 20). */
  sent: string[];
  /** Those exports fetched over the web afterwards: what, when, from where. */
  downloads: string[];
  records: number;
  reasons: string[];
  /** The first records, to find them again (file and line or record). */
  sources: string[];
}

export interface MailAccessScope {
  mailboxes: MailboxScope[];
  /** Requests by the intruder's sessions to mail endpoints that name no mailbox (forged ones carry it in the body, which no log keeps). */
  unnamed: ScopedAccess[];
  /** Exports fetched over the web (.pst files downloaded). */
  downloads: ScopedAccess[];
  grants: MailGrant[];
  actors: Actors;
}

/** How a change to a mailbox is named in a row's reasons. */
const CHANGE_WORDS: Partial<Record<AccessKind, string>> = {
  export: 'a mailbox export', 'inbox-rule': 'an inbox rule that moves or hides mail', forwarding: 'mail forwarding set on the mailbox',
  permission: 'access to the mailbox given to someone', role: 'a role that can export or impersonate any mailbox',
};

/** Kinds that open a mailbox to someone or move its mail out: listed even when nothing ties them to the intruder. */
const ALWAYS_LISTED = new Set<AccessKind>(['export', 'forwarding', 'permission', 'inbox-rule', 'role']);

/**
 * Keeps the accesses tied to the intruder (their address, identity or application) and the changes
 * that open a mailbox whoever made them, and puts them together by mailbox. A request from the
 * intruder's address is the strongest tie (high); an identity the intruder used, or a change that
 * opens a mailbox without any tie, is medium: the identity's owner or an administrator may have made
 * it; mail read by a user from an address that signed in as them from a country new for them is low.
 */
export function scopeMailAccess(all: readonly MailAccess[], grants: readonly MailGrant[], actors: Actors, appNames: ReadonlyMap<string, string>, signIns: readonly SignIn[] = []): MailAccessScope {
  const novel = newCountrySignIns(signIns);
  const usual = usualMailboxes(all, actors);
  const seen = new Set<string>();
  // With HttpProxy logs, IIS's lines of the same requests add nothing but a second count.
  const proxied = all.some((a) => a.log === 'HttpProxy Logs');
  const kept: ScopedAccess[] = [];
  for (const a of all) {
    if (a.id) {
      if (seen.has(a.id)) continue;
      seen.add(a.id);
    }
    if (proxied && a.kind === 'read' && a.log === 'IIS') continue;
    const appName = a.appId ? appNames.get(a.appId.toLowerCase()) : undefined;
    const scored = score(a, actors, appName, novel, usual);
    if (scored) kept.push({ ...a, ...scored, ...(appName ? { appName } : {}) });
  }
  const byMailbox = new Map<string, ScopedAccess[]>();
  const unnamed: ScopedAccess[] = [];
  const downloads: ScopedAccess[] = [];
  const roles: MailGrant[] = [];
  for (const a of kept) {
    if (a.kind === 'download') downloads.push(a);
    // A role to export or impersonate any mailbox is a grant, not an access to one.
    else if (a.kind === 'role') roles.push({ time: a.time, what: 'role assignment', app: '', permissions: a.detail ?? '', identity: a.identity, file: a.file, where: a.where });
    else if (!a.mailbox) unnamed.push(a);
    else {
      const list = byMailbox.get(a.mailbox);
      if (list) list.push(a);
      else byMailbox.set(a.mailbox, [a]);
    }
  }
  const mailboxes = [...byMailbox].map(([mailbox, list]) => summarise(mailbox, list, downloads));
  mailboxes.sort((a, b) => RANK[b.confidence] - RANK[a.confidence] || a.first.localeCompare(b.first) || a.mailbox.localeCompare(b.mailbox));
  return { mailboxes, unnamed, downloads, grants: [...grants, ...roles].sort((a, b) => a.time.localeCompare(b.time)), actors };
}

/** A user needs this many earlier sign-ins before a country is new for them (fewer say nothing of their habits). */
const BASELINE_SIGN_INS = 3;

/**
 * Sign-ins from a country the user had not signed in from before (after a baseline of their own), by
 * user and address: the weakest tie (low), for mail read by that user from that address.
 */
export function newCountrySignIns(signIns: readonly SignIn[]): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, { countries: Set<string>; count: number }>();
  for (const s of [...signIns].sort((a, b) => a.time.localeCompare(b.time))) {
    const u = seen.get(s.user) ?? { countries: new Set<string>(), count: 0 };
    seen.set(s.user, u);
    if (u.count >= BASELINE_SIGN_INS && !u.countries.has(s.country)) {
      const key = `${s.user}\0${s.ip}`;
      if (!out.has(key)) out.set(key, `from ${s.ip}, which signed in as ${s.user} from ${s.country} at ${s.time.slice(0, 19).replace('T', ' ')}, a country new for this user (before: ${[...u.countries].join(', ')})`);
      continue; // a new country joins the baseline only once trusted: never, here
    }
    u.countries.add(s.country);
    u.count++;
  }
  return out;
}

/** Whether a mailbox is the identity's own: the same account name (DOMAIN\\name, name@domain, the mailbox's local part). */
function ownMailbox(identity: string, mailbox: string): boolean {
  const name = (x: string) => x.toLowerCase().split('\\').pop()!.split('@')[0]!;
  return mailbox !== '' && name(identity) === name(mailbox);
}

/**
 * The mailboxes each of the intruder's identities reaches as its owner does: those it reached before
 * the intrusion was first seen, and the mailbox GUID it names most (its own, in MAPI). Reaching them
 * again says nothing of the intruder.
 */
function usualMailboxes(all: readonly MailAccess[], actors: Actors): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const start = Date.parse(actors.firstSeen);
  // Outlook names its own mailbox by GUID in every MAPI request: the GUID an identity names most is its own.
  const guids = new Map<string, Map<string, number>>();
  for (const a of all) {
    const id = a.identity?.toLowerCase();
    if (!id || !a.mailbox || !actors.identities.has(id)) continue;
    if (Date.parse(a.time) < start) out.set(id, (out.get(id) ?? new Set<string>()).add(a.mailbox));
    if (MAILBOX_GUID.test(a.mailbox)) {
      const counts = guids.get(id) ?? new Map<string, number>();
      guids.set(id, counts.set(a.mailbox, (counts.get(a.mailbox) ?? 0) + 1));
    }
  }
  for (const [id, counts] of guids) {
    const own = [...counts].sort((x, y) => y[1] - x[1])[0]![0];
    out.set(id, (out.get(id) ?? new Set<string>()).add(own));
  }
  return out;
}

const MAILBOX_GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@/;

function score(a: MailAccess, actors: Actors, appName: string | undefined, novel: ReadonlyMap<string, string>, usual: ReadonlyMap<string, ReadonlySet<string>>): { confidence: Confidence; reasons: string[] } | undefined {
  const reasons: string[] = [];
  let confidence: Confidence | undefined;
  const raise = (c: Confidence, why: string) => {
    reasons.push(why);
    if (!confidence || RANK[c] > RANK[confidence]) confidence = c;
  };
  if (a.ip && actors.ips.has(a.ip)) raise('high', `from ${a.ip}, an address of the intrusion: ${actors.ips.get(a.ip)}`);
  for (const app of [a.appId, appName]) {
    if (app && actors.apps.has(app.toLowerCase())) raise('high', `by application ${appName ?? app}, which the intrusion changed: ${actors.apps.get(app.toLowerCase())}`);
  }
  const fromNewCountry = a.ip && a.identity ? novel.get(`${a.identity.toLowerCase()}\0${a.ip}`) : undefined;
  if (fromNewCountry) raise('low', fromNewCountry);
  // An identity the intruder used reading a mailbox its owner does not (their own, or one they reached
  // before the intrusion); what the owner does as usual is tied only by the intruder's address.
  const id = a.identity?.toLowerCase();
  if (id && actors.identities.has(id) && !ownMailbox(id, a.mailbox) && !usual.get(id)?.has(a.mailbox)) raise('medium', `as ${a.identity}, an identity the intrusion used: ${actors.identities.get(id)}`);
  if (ALWAYS_LISTED.has(a.kind)) {
    const path = a.detail ?? '';
    if (a.kind === 'export' && isWebPath(path.replace(/\\/g, '/'))) raise('high', 'an export written into a folder the web server serves, where it can be downloaded');
    else raise('medium', `${CHANGE_WORDS[a.kind] ?? 'a change to a mailbox'}: check who made it`);
  }
  return confidence ? { confidence, reasons } : undefined;
}

/**
 * Whether an access could be kept (see scopeMailAccess), as far as the intruder's ties, application
 * names and new-country sign-ins tell: a reader drops the others at once, so that memory holds what
 * matters, not every access a tenant's audit log records.
 */
export function mayMatter(a: MailAccess, actors: Actors, appNames: ReadonlyMap<string, string>, novel: ReadonlyMap<string, string>): boolean {
  if (a.kind === 'download' || ALWAYS_LISTED.has(a.kind)) return true;
  if ((a.ip && actors.ips.has(a.ip)) || (a.identity && actors.identities.has(a.identity.toLowerCase()))) return true;
  const name = a.appId ? appNames.get(a.appId.toLowerCase()) : undefined;
  if ((a.appId && actors.apps.has(a.appId.toLowerCase())) || (name && actors.apps.has(name.toLowerCase()))) return true;
  return a.ip !== undefined && a.identity !== undefined && novel.has(`${a.identity.toLowerCase()}\0${a.ip}`);
}

/** The name a Windows or URL path ends with. */
const baseName = (path: string) => path.split(/[\\/]/).pop()!.toLowerCase();

function summarise(mailbox: string, list: ScopedAccess[], downloads: readonly ScopedAccess[]): MailboxScope {
  // An export later fetched over the web: the download of the file it was written to.
  const written = new Set(list.filter((a) => a.kind === 'export').map((a) => baseName(a.detail ?? '')));
  const fetched = downloads.filter((d) => written.has(baseName(d.detail ?? '')));
  const times = list.map((a) => a.time).filter(Boolean).sort();
  const uniq = <T>(xs: (T | undefined)[]) => [...new Set(xs.filter((x): x is T => x !== undefined && x !== ''))];
  const counted = list.filter((a) => a.items !== undefined);
  const confidence = list.reduce<Confidence>((c, a) => (RANK[a.confidence] > RANK[c] ? a.confidence : c), 'low');
  return {
    mailbox,
    first: times[0] ?? '',
    last: times[times.length - 1] ?? '',
    confidence,
    kinds: uniq(list.map((a) => a.kind)),
    protocols: uniq(list.map((a) => a.protocol)),
    clients: uniq(list.map((a) => a.client)),
    apps: uniq(list.map((a) => (a.appName ? `${a.appName} (${a.appId})` : a.appId))),
    ips: uniq(list.map((a) => a.ip)),
    identities: uniq(list.map((a) => a.identity)),
    folders: uniq(list.flatMap((a) => a.folders ?? [])),
    items: counted.length ? counted.reduce((n, a) => n + a.items!, 0) : undefined,
    exports: uniq(list.filter((a) => a.kind === 'export' || a.kind === 'search').map((a) => a.detail)),
    sent: uniq(list.filter((a) => a.kind === 'send').map((a) => a.detail)).slice(0, 20),
    downloads: fetched.map((d) => `${d.detail} fetched ${d.time.slice(0, 19).replace('T', ' ')} from ${d.ip ?? '?'}`),
    records: list.length,
    reasons: uniq(list.flatMap((a) => a.reasons)).slice(0, 6),
    sources: uniq(list.map((a) => `${a.file}:${a.where}`)).slice(0, 5),
  };
}
