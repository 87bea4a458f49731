import { writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Command } from 'commander';
import type { Detection } from '../../hunt/hunt.js';
import { Actors } from '../../mail-access/actors.js';
import { readMailFacts } from '../../mail-access/read.js';
import { type MailAccessScope, scopeMailAccess } from '../../mail-access/scope.js';
import { mailAccessCsv, mailAccessJson, mailAccessText } from '../../report/mail-access.js';
import { spoorAndDefaultRules } from '../default-rules.js';
import { ExitCode } from '../options.js';
import { addHuntOptions, type HuntOptions, type HuntRun, runHunt } from './hunt.js';

export interface MailAccessOptions {
  actorIp?: string[];
  actorUser?: string[];
  actorApp?: string[];
  mailCsv?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

/** The options that say who the intruder is and where the mailbox list goes (mail-access and exchange scan). */
export function addMailAccessOptions(c: Command): Command {
  return c
    .option('--actor-ip <ip>', "an address of the intruder's, besides those the detections name (repeatable, comma-separated)", collect)
    .option('--actor-user <identity>', 'an account the intruder used (DOMAIN\\user or user@domain; repeatable)', collect)
    .option('--actor-app <id-or-name>', 'an application the intruder used (its app id or name; repeatable)', collect)
    .option('--mail-csv <file>', 'write the mailboxes reached, one row each, as CSV (for the people who must notify)');
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
      const facts = await readMailFacts(units, () => {});
      const scope = scopeMailAccess(facts.accesses, facts.grants, actors, facts.appNames);
      if (o.mailCsv) writeFileSync(o.mailCsv, mailAccessCsv(scope), { mode: 0o600 });
      await show(scope);
    },
  };
}

type Options = HuntOptions & MailAccessOptions;

export function mailAccessCommand(): Command {
  return addMailAccessOptions(addHuntOptions(
    new Command('mail-access')
      .description('which mailboxes the intruder read, exported, searched or opened to others, from where, how and when: from IIS and Exchange logs, the MSExchange Management log, Microsoft 365 unified audit log and Entra ID logs')
      .argument('<paths...>', 'evidence files or folders (an Exchange server\'s collected files, audit log exports)'),
    "more Sigma rules (Spoor's own always run, with SigmaHQ's when spoor update has fetched them); their detections name the intruder's addresses and applications",
  ))
    .addHelpText('after', `
The hunt runs first (its summary on stderr): detections of level high or critical in web and cloud
logs name the intruder's addresses, identities and applications (an address that reached a web shell
or forged a request, an application given credentials or rights to mail); --actor-ip, --actor-user
and --actor-app add what you know. Then every mail access in the evidence is read: EWS, OWA, MAPI,
ActiveSync and REST requests (the mailbox from HttpProxy's AnchorMailbox or the URL), Exchange
cmdlets that export, forward, add rules or give access (MSExchange Management log, command lines,
the unified audit log), MailItemsAccessed, Send and SearchQueryInitiated records. A mailbox is listed
when its access is tied to the intruder (high: their address or application; medium: an identity they
used), or when it was exported, forwarded, given a rule or opened to someone (medium without a tie).
The table goes to stdout (--format jsonl: one JSON document; csv: one row per mailbox); --mail-csv
writes the CSV besides. Exit status as for hunt.`)
    .action(async (paths: string[], opts: Options) => {
      process.exitCode = await mailAccess(paths, opts);
    });
}

async function mailAccess(paths: string[], opts: Options): Promise<number> {
  const say = (m: string) => process.stderr.write(`spoor mail-access: ${m}\n`);
  const error = mailAccessOptionError(opts) ?? (opts.format === 'timesketch' ? '--format timesketch: the mailbox list is a table, JSON (jsonl) or CSV' : undefined);
  if (error) {
    say(error);
    return ExitCode.Usage;
  }
  const write = (text: string) => (opts.output ? writeFileSync(opts.output, text, { mode: 0o600 }) : process.stdout.write(text));
  const stage = mailAccessStage(opts, (scope) => {
    if (opts.format === 'jsonl') write(`${JSON.stringify(mailAccessJson(scope))}\n`);
    else if (opts.format === 'csv') write(mailAccessCsv(scope));
    else write(mailAccessText(scope, !opts.output && process.stdout.isTTY === true));
  });
  return runHunt(paths, { ...opts, output: undefined }, { command: 'mail-access', rules: spoorAndDefaultRules(), expectOtherFiles: true, quiet: true, ...stage });
}
