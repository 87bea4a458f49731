import { type HuntUnit, type TimedEvent, type UnitHunt, unitEvents } from '../hunt/hunt.js';
import { textFilter } from '../hunt/text-filter.js';
import type { LineSelection } from '../evidence/w3c.js';
import { normaliseTime } from '../evidence/normalize.js';
import { valueText } from '../sigma/modifiers.js';
import { type MailAccess, type MailGrant, mailFactsOf, type SignIn } from './access.js';

/** Every mail access, grant and application name the evidence records. */
export interface MailFacts {
  accesses: MailAccess[];
  grants: MailGrant[];
  /** Application names by id (lower case). */
  appNames: Map<string, string>;
  signIns: SignIn[];
  events: number;
}

/** The channels whose events can tell of mail access: most events of a collection are read and dropped at once. */
const CHANNELS = new Set(['IIS', 'HttpProxy Logs', 'MSExchange Management', 'Message Tracking Log', 'Microsoft-Windows-Sysmon/Operational', 'Security', 'OfficeActivity', 'CloudAppEvents', 'AuditLogs', 'SigninLogs', 'AADNonInteractiveUserSignInLogs', 'AADServicePrincipalSignInLogs', 'AADManagedIdentitySignInLogs']);

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
 * what they record of mail access. Problems of reading are passed to `onDiagnostic`, as the hunt's.
 * In web and mail flow logs only lines holding one of `webLiterals` are read (the intruder's
 * addresses and identities): their other lines tie nothing to the intrusion.
 */
export async function readMailFacts(units: readonly HuntUnit[], onDiagnostic: (m: string) => void, webLiterals: readonly string[]): Promise<MailFacts> {
  const select = webLines([...webLiterals, '.pst']);
  const facts: MailFacts = { accesses: [], grants: [], appNames: new Map(), signIns: [], events: 0 };
  const linesBefore = new Map<string, number>();
  for (const unit of units) {
    const result: UnitHunt = { matches: [], events: 0, readable: true, diagnostics: [] };
    const label = unit.name ?? unit.file;
    const before = linesBefore.get(unit.file) ?? 0;
    const take = (e: TimedEvent) => {
      facts.events++;
      const channel = valueText(e.view.get('Channel'));
      if (channel === undefined || !CHANNELS.has(channel)) return;
      const where = e.line !== undefined ? `line ${e.line + before}` : `${unit.kind === 'w3c' ? 'line' : 'record'} ${valueText(e.view.get('EventRecordID')) ?? '?'}`;
      const found = mailFactsOf(e.view, label, where);
      for (const a of found.accesses) facts.accesses.push({ ...a, time: a.time && normaliseTime(a.time) });
      if (found.grant) facts.grants.push(found.grant);
      if (found.signIn) facts.signIns.push({ ...found.signIn, time: normaliseTime(found.signIn.time) });
      for (const [id, name] of found.appNames ?? []) if (!facts.appNames.has(id.toLowerCase())) facts.appNames.set(id.toLowerCase(), name);
    };
    const events = unitEvents(unit, result, undefined, select);
    if (Symbol.iterator in events) for (const e of events) take(e);
    else for await (const e of events) take(e);
    if (result.lines !== undefined) linesBefore.set(unit.file, before + result.lines);
    for (const d of result.diagnostics) onDiagnostic(d);
  }
  return facts;
}
