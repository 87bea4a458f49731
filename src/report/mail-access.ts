import { readFileSync } from 'node:fs';
import type { MailGrant } from '../mail-access/access.js';
import type { Confidence, MailAccessScope, MailboxScope } from '../mail-access/scope.js';
import { csvCell, formatTable, printable } from './detections.js';

const when = (iso: string) => (iso ? iso.slice(0, 19).replace('T', ' ') : '');
const list = (xs: readonly string[], max = 3) => (xs.length > max ? `${xs.slice(0, max).join(', ')} +${xs.length - max}` : xs.join(', '));

/** What a row says of how a mailbox was reached: the kinds of access and the protocols. */
function how(m: MailboxScope): string {
  return `${m.kinds.join(', ')} (${m.protocols.join(', ')})`;
}

function reached(m: MailboxScope): string {
  const parts = [];
  if (m.folders.length) parts.push(list(m.folders));
  if (m.items !== undefined) parts.push(`${m.items} items`);
  if (m.exports.length) parts.push(list(m.exports, 2));
  if (m.downloads.length) parts.push(list(m.downloads, 2));
  if (m.sent.length) parts.push(`sent ${list(m.sent, 2)}`);
  return parts.join('; ');
}

export const MAIL_ACCESS_HEADER = ['mailbox', 'first (UTC)', 'last (UTC)', 'confidence', 'how', 'from', 'by', 'reached'];

/** The mailboxes as table rows. */
export function mailAccessRows(scope: MailAccessScope): string[][] {
  return scope.mailboxes.map((m) => [m.mailbox, when(m.first), when(m.last), m.confidence, how(m), list(m.ips), list([...m.apps, ...m.identities]), reached(m)]);
}

/** The section a scan or `spoor mail-access` prints: the table, then what it could not name, grants and why. */
export function mailAccessText(scope: MailAccessScope, colour = false): string {
  // The table makes its cells safe itself; every other line is made safe as it is added.
  const out: string[] = [scope.mailboxes.length ? formatTable(mailAccessRows(scope), MAIL_ACCESS_HEADER, 60, colour ? 3 : undefined).trimEnd() : 'No mailbox access tied to the intrusion was found in these logs.'];
  const say = (line: string) => out.push(printable(line));
  if (scope.downloads.length) {
    say('');
    say('Exports fetched over the web:');
    for (const d of scope.downloads) say(`  ${when(d.time)}  ${d.detail ?? ''} from ${d.ip ?? '?'} (${d.file}:${d.where})`);
  }
  if (scope.unnamed.length) {
    const byProtocol = new Map<string, number>();
    for (const a of scope.unnamed) byProtocol.set(a.protocol, (byProtocol.get(a.protocol) ?? 0) + 1);
    const ips = [...new Set(scope.unnamed.map((a) => a.ip).filter(Boolean))];
    say('');
    say(`${scope.unnamed.length} requests by the intrusion's sessions to mail endpoints name no mailbox (${[...byProtocol].map(([p, n]) => `${p} ${n}`).join(', ')}; from ${list(ips as string[], 4)}, ${when(scope.unnamed[0]!.time)} to ${when(scope.unnamed[scope.unnamed.length - 1]!.time)}): a forged request carries its mailbox in its body, which no log keeps; the mailbox audit log or EWS logs may name it.`);
  }
  if (scope.grants.length) {
    say('');
    say('Rights to mail given (applications, roles):');
    for (const g of scope.grants) say(`  ${when(g.time)}  ${g.what}${g.app ? `: ${g.app}` : ''}${g.permissions ? ` (${g.permissions})` : ''}${g.identity ? ` by ${g.identity}` : ''}`);
  }
  const ties = [...scope.actors.ips.keys(), ...scope.actors.apps.keys(), ...scope.actors.identities.keys()];
  say('');
  say(ties.length ? `Tied to the intrusion by: ${list(ties, 8)} (from the detections and --actor-* options).` : 'No address, identity or application of the intrusion is known (no high or critical detection in web or cloud logs names one): only changes that open a mailbox are listed. Give what you know with --actor-ip, --actor-user or --actor-app.');
  return out.join('\n') + '\n';
}

/** A cell a spreadsheet shows as text: a value starting with = + - @ would be run as a formula. */
const sheetCell = (v: string) => csvCell(/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

export const MAIL_ACCESS_CSV_HEADER = ['mailbox', 'first_access_utc', 'last_access_utc', 'confidence', 'kinds', 'protocols', 'source_addresses', 'applications', 'identities', 'clients', 'folders', 'items', 'exports', 'downloads', 'sent', 'records', 'reasons', 'sources'];

/** One row per mailbox, for the people who must notify. */
export function mailAccessCsv(scope: MailAccessScope): string {
  const rows = scope.mailboxes.map((m) => [m.mailbox, m.first, m.last, m.confidence, m.kinds.join('; '), m.protocols.join('; '), m.ips.join('; '), m.apps.join('; '), m.identities.join('; '), m.clients.join('; '), m.folders.join('; '), m.items === undefined ? '' : String(m.items), m.exports.join('; '), m.downloads.join('; '), m.sent.join('; '), String(m.records), m.reasons.join(' | '), m.sources.join('; ')].map(sheetCell).join(','));
  return [MAIL_ACCESS_CSV_HEADER.join(','), ...rows].join('\n') + '\n';
}

/** The scope as one JSON document: what `spoor mail-access --format jsonl` prints and reports read back. */
export interface MailAccessReport {
  mailboxes: MailboxScope[];
  unnamed_requests: { time: string; protocol: string; ip?: string; client?: string; identity?: string; file: string; where: string }[];
  downloads: { time: string; path?: string; ip?: string; client?: string; file: string; where: string }[];
  grants: MailGrant[];
  actors: { ips: Record<string, string>; identities: Record<string, string>; apps: Record<string, string> };
}

export function mailAccessJson(scope: MailAccessScope): MailAccessReport {
  return {
    mailboxes: scope.mailboxes,
    unnamed_requests: scope.unnamed.map(({ time, protocol, ip, client, identity, file, where }) => ({ time, protocol, ip, client, identity, file, where })),
    downloads: scope.downloads.map(({ time, detail, ip, client, file, where }) => ({ time, path: detail, ip, client, file, where })),
    grants: scope.grants,
    actors: { ips: Object.fromEntries(scope.actors.ips), identities: Object.fromEntries(scope.actors.identities), apps: Object.fromEntries(scope.actors.apps) },
  };
}

export class MailAccessFileError extends Error {}

/** The name of a report's mail access file, beside its detections. */
export const MAIL_ACCESS_FILE = 'mail-access.json';

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(str).filter(Boolean) : []);
const objs = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x)) : []);
const CONFIDENCES = new Set<Confidence>(['high', 'medium', 'low']);

/**
 * A mail access file read back (what a report and the web UI show), every value taken as text: the
 * file sits beside a hunt's output and is treated as any input is. Undefined when there is none;
 * an error naming the file when it is not one.
 */
export function readMailAccessReport(file: string): MailAccessReport | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new MailAccessFileError(`${file}: not JSON (${(e as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || !Array.isArray((doc as { mailboxes?: unknown }).mailboxes)) throw new MailAccessFileError(`${file}: not a mail access report (no mailboxes list)`);
  const d = doc as Record<string, unknown>;
  const place = (x: Record<string, unknown>) => ({ time: str(x.time), file: str(x.file), where: str(x.where) });
  const actors = (d.actors ?? {}) as Record<string, unknown>;
  const record = (v: unknown) => Object.fromEntries(Object.entries(v !== null && typeof v === 'object' ? v : {}).map(([k, x]) => [k, str(x)]));
  return {
    mailboxes: objs(d.mailboxes).map((m) => ({
      mailbox: str(m.mailbox), first: str(m.first), last: str(m.last), confidence: CONFIDENCES.has(m.confidence as Confidence) ? (m.confidence as Confidence) : 'low',
      kinds: strs(m.kinds) as MailboxScope['kinds'], protocols: strs(m.protocols), clients: strs(m.clients), apps: strs(m.apps), ips: strs(m.ips), identities: strs(m.identities),
      folders: strs(m.folders), ...(typeof m.items === 'number' ? { items: m.items } : {}), exports: strs(m.exports), downloads: strs(m.downloads), sent: strs(m.sent),
      records: typeof m.records === 'number' ? m.records : 0, reasons: strs(m.reasons), sources: strs(m.sources),
    })),
    unnamed_requests: objs(d.unnamed_requests).map((x) => ({ ...place(x), protocol: str(x.protocol), ip: str(x.ip), client: str(x.client), identity: str(x.identity) })),
    downloads: objs(d.downloads).map((x) => ({ ...place(x), path: str(x.path), ip: str(x.ip), client: str(x.client) })),
    grants: objs(d.grants).map((x) => ({ ...place(x), what: str(x.what), app: str(x.app), permissions: str(x.permissions), identity: str(x.identity) })),
    actors: { ips: record(actors.ips), identities: record(actors.identities), apps: record(actors.apps) },
  };
}
