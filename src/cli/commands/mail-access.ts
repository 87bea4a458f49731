import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { mailAccessCsv, mailAccessJson, mailAccessText } from '../../report/mail-access.js';
import { spoorAndDefaultRules } from '../default-rules.js';
import { ExitCode } from '../options.js';
import { addHuntOptions, type HuntOptions, runHunt } from './hunt.js';
import { addMailAccessOptions, type MailAccessOptions, mailAccessOptionError, mailAccessStage, withReportMailJson } from './mail-access-stage.js';

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
  const stage = mailAccessStage(withReportMailJson(opts), (scope) => {
    if (opts.format === 'jsonl') write(`${JSON.stringify(mailAccessJson(scope))}\n`);
    else if (opts.format === 'csv') write(mailAccessCsv(scope));
    else write(mailAccessText(scope, !opts.output && process.stdout.isTTY === true));
  });
  return runHunt(paths, { ...opts, output: undefined }, { command: 'mail-access', rules: spoorAndDefaultRules(), expectOtherFiles: true, quiet: true, ...stage });
}
