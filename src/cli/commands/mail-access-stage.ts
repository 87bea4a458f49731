import { writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Detection } from '../../hunt/hunt.js';
import { Actors } from '../../mail-access/actors.js';
import { readMailFacts } from '../../mail-access/read.js';
import { type MailAccessScope, scopeMailAccess } from '../../mail-access/scope.js';
import { MAIL_ACCESS_FILE, mailAccessCsv, mailAccessJson } from '../../report/mail-access.js';
import type { HuntRun } from './hunt.js';

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

export interface MailAccessOptions {
  actorIp?: string[];
  actorUser?: string[];
  actorApp?: string[];
  mailCsv?: string;
  mailJson?: string;
}

/** The options that say who the intruder is and where the mailbox list goes (mail-access and exchange scan). */
export function addMailAccessOptions(c: Command): Command {
  return c
    .option('--actor-ip <ip>', "an address of the intruder's, besides those the detections name (repeatable, comma-separated)", collect)
    .option('--actor-user <identity>', 'an account the intruder used (DOMAIN\\user or user@domain; repeatable)', collect)
    .option('--actor-app <id-or-name>', 'an application the intruder used (its app id or name; repeatable)', collect)
    .option('--mail-csv <file>', 'write the mailboxes reached, one row each, as CSV (for the people who must notify)')
    .option('--mail-json <file>', `write the mail access found as JSON (with --report DIR: DIR/${MAIL_ACCESS_FILE}, which the report shows)`);
}

/** Whether a hunt was asked for mail access (hunt looks only when asked; exchange scan and mail-access always do). */
export const wantsMailAccess = (o: MailAccessOptions) => Boolean(o.mailCsv || o.mailJson || o.actorIp?.length || o.actorUser?.length || o.actorApp?.length);

/** The options with --report's mail access file filled in, where a report is written. */
export function withReportMailJson<T extends MailAccessOptions & { report?: string }>(o: T): T {
  return o.report && !o.mailJson ? { ...o, mailJson: join(o.report, MAIL_ACCESS_FILE) } : o;
}

/** Checks the --actor-* options; a message naming the bad one, or undefined. */
export function mailAccessOptionError(o: MailAccessOptions): string | undefined {
  const bad = (o.actorIp ?? []).find((ip) => !isIP(ip));
  return bad ? `--actor-ip ${bad}: not an IP address` : undefined;
}

/**
 * The mail-access stage of a hunt: it watches the detections for the intruder's addresses,
 * identities and applications, then reads the same evidence for mail access and keeps what they tie
 * to the intrusion. `show` gets the result once the hunt's summary is out.
 */
export function mailAccessStage(o: MailAccessOptions, show: (scope: MailAccessScope) => void | Promise<void>): Pick<HuntRun, 'observe' | 'after'> {
  const actors = new Actors();
  for (const ip of o.actorIp ?? []) actors.addIp(ip, 'given with --actor-ip');
  for (const u of o.actorUser ?? []) actors.addIdentity(u, 'given with --actor-user');
  for (const a of o.actorApp ?? []) actors.addApp(a, 'given with --actor-app');
  return {
    observe: (d: Detection) => actors.addDetection(d),
    after: async (units) => {
      // Problems reading the files were said by the hunt, which read them first.
      const facts = await readMailFacts(units, () => {}, actors);
      const scope = scopeMailAccess(facts.accesses, facts.grants, actors, facts.appNames, facts.signIns);
      if (o.mailCsv) writeFileSync(o.mailCsv, mailAccessCsv(scope), { mode: 0o600 });
      if (o.mailJson) writeFileSync(o.mailJson, `${JSON.stringify(mailAccessJson(scope))}\n`, { mode: 0o600 });
      await show(scope);
    },
  };
}
