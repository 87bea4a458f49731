import { readHead } from '../common/read-head.js';
import { type HuntUnit, type TimedEvent, type UnitHunt, unitEvents } from '../hunt/hunt.js';
import { detached } from '../common/detached.js';
import { textFilter } from '../hunt/text-filter.js';
import type { LineSelection } from '../evidence/w3c.js';
import { normaliseTime } from '../evidence/normalize.js';
import { valueText } from '../sigma/modifiers.js';
import { type EventMailFacts, type MailAccess, type MailGrant, mailFactsOf, type SignIn } from './access.js';
import type { Actors } from './actors.js';
import { mayMatter, newCountrySignIns } from './scope.js';

/** Every mail access, grant and application name the evidence records. */
export interface MailFacts {
  accesses: MailAccess[];
  grants: MailGrant[];
  /** Application names by id (lower case). */
  appNames: Map<string, string>;
  signIns: SignIn[];
  /** Events of the channels that can hold mail access, read. */
  events: number;
}

/** The channels whose events can tell of mail access: most events of a collection are read and dropped at once. */
const CHANNELS = new Set(['IIS', 'HttpProxy Logs', 'MSExchange Management', 'Message Tracking Log', 'Microsoft-Windows-Sysmon/Operational', 'Security', 'OfficeActivity', 'CloudAppEvents', 'AuditLogs', 'SigninLogs', 'AADNonInteractiveUserSignInLogs', 'AADServicePrincipalSignInLogs', 'AADManagedIdentitySignInLogs']);

/** The channels that name applications and sign-ins (read first: they decide which accesses matter). */
const NAMING_CHANNELS = new Set(['CloudAppEvents', 'SigninLogs', 'AADNonInteractiveUserSignInLogs', 'AADServicePrincipalSignInLogs', 'AADManagedIdentitySignInLogs']);

/** Web and mail flow logs: most of a server's lines, of which only the intruder's matter. */
const WEB_CHANNELS = new Set(['IIS', 'HttpProxy Logs', 'Message Tracking Log']);

/**
 * Which lines of text logs are read: in web and mail flow logs, those holding one of the literals
 * (the intruder's addresses and identities, `.pst`), the others counted and passed over unsplit, as
 * the hunt's prefilter does; in other text logs none (they record no mail access).
 */
function webLines(literals: readonly string[]): LineSelection {
  const filter = textFilter(literals.map((l) => l.toLowerCase()));
  const none = { hits: () => [] };
  return { filterFor: (channel) => (WEB_CHANNELS.has(channel) ? filter : none), onSkipped: () => {} };
}

/**
 * Reads the units (in order: a file's later units count their lines on from the earlier ones) for
 * what they record of mail access, keeping only accesses that may matter (see mayMatter). Cloud logs
 * are read twice: first for application names and sign-ins, which decide what matters. In web and
 * mail flow logs only lines holding the intruder's addresses or identities are read: their other
 * lines tie nothing to the intrusion. Problems of reading go to `onDiagnostic`, as the hunt's.
 */
export async function readMailFacts(units: readonly HuntUnit[], onDiagnostic: (m: string) => void, actors: Actors): Promise<MailFacts> {
  const select = webLines([...actors.webLiterals(), '.pst']);
  const facts: MailFacts = { accesses: [], grants: [], appNames: new Map(), signIns: [], events: 0 };
  // Files whose first 64 KiB name no application nor sign-in field hold neither: not read twice.
  const cloud = units.filter((u) => (u.kind === 'json' || u.kind === 'csv') && /AppDisplayName|OAuthAppId|UserPrincipalName/i.test(readHead(u.file, 64 * 1024)?.toString('utf8') ?? ''));
  await eachFact(cloud, select, () => {}, NAMING_CHANNELS, (found) => {
    // What is kept is copied (detached): a substring would keep the whole text block it was read from.
    if (found.signIn) facts.signIns.push(detached({ ...found.signIn, time: normaliseTime(found.signIn.time) }));
    for (const [id, name] of found.appNames ?? []) if (!facts.appNames.has(id.toLowerCase())) facts.appNames.set(detached(id.toLowerCase()), detached(name));
  });
  const novel = newCountrySignIns(facts.signIns);
  await eachFact(units, select, onDiagnostic, CHANNELS, (found) => {
    facts.events++;
    for (const a of found.accesses) if (mayMatter(a, actors, facts.appNames, novel)) facts.accesses.push(detached({ ...a, time: a.time && normaliseTime(a.time) }));
    if (found.grant) facts.grants.push(detached(found.grant));
  });
  return facts;
}

/** The mail facts of every event of the units from one of the channels, in order. */
async function eachFact(units: readonly HuntUnit[], select: LineSelection, onDiagnostic: (m: string) => void, channels: ReadonlySet<string>, take: (found: EventMailFacts) => void): Promise<void> {
  const linesBefore = new Map<string, number>();
  for (const unit of units) {
    const result: UnitHunt = { matches: [], events: 0, readable: true, diagnostics: [] };
    const label = unit.name ?? unit.file;
    const before = linesBefore.get(unit.file) ?? 0;
    const one = (e: TimedEvent) => {
      const channel = valueText(e.view.get('Channel'));
      if (channel === undefined || !channels.has(channel)) return;
      const where = e.line !== undefined ? `line ${e.line + before}` : `${unit.kind === 'w3c' ? 'line' : 'record'} ${valueText(e.view.get('EventRecordID')) ?? '?'}`;
      take(mailFactsOf(e.view, label, where));
    };
    const events = unitEvents(unit, result, undefined, select);
    if (Symbol.iterator in events) for (const e of events) one(e);
    else for await (const e of events) one(e);
    if (result.lines !== undefined) linesBefore.set(unit.file, before + result.lines);
    for (const d of result.diagnostics) onDiagnostic(d);
  }
}
