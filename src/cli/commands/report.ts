import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MAIL_ACCESS_FILE, MailAccessFileError, readMailAccessReport } from '../../report/mail-access.js';
import { Command } from 'commander';
import { KnowledgeError, type KnowledgeBase } from '../../attribution/knowledge.js';
import { buildCase, writeCase } from '../../report/case.js';
import { REPORT_FILES, REPORT_FORMATS, type ReportFormat } from '../../report/formats.js';
import { HuntOutputError, readHuntOutput } from '../../report/hunt-output.js';
import { ExitCode } from '../options.js';
import { knowledgeFor } from '../../attribution/installed-knowledge.js';
import { addAnalystEvidence } from './attribute.js';
import { type ReportCliOptions, addAttributionOptions, parseFormats } from './case-options.js';

/** ATT&CK when it can be had; otherwise undefined and the reason (a report is made without attribution). */
export function optionalKnowledge(attack: string | undefined, say: (m: string) => void): { kb?: KnowledgeBase; note?: string } {
  try {
    return { kb: knowledgeFor(attack) };
  } catch (e) {
    if (!(e instanceof KnowledgeError)) throw e;
    if (attack) throw e;
    say(`no attribution in the report: ${e.message}`);
    return { note: `No attribution: ${e.message}` };
  }
}

/** Builds and writes a case's report files from a hunt's JSONL output; returns the exit code. */
export async function makeReport(input: string, dir: string, opts: Partial<ReportCliOptions> & { format: ReportFormat[] }, say: (m: string) => void): Promise<number> {
  let bad = 0;
  // What the hunt found of mail access, when it looked: beside its detections.
  const mailAccess = readMailAccessReport(join(dirname(input), MAIL_ACCESS_FILE));
  const { kb, note } = opts.attribute === false ? { kb: undefined, note: 'No attribution: --no-attribute.' } : optionalKnowledge(opts.attack, say);
  const report = await buildCase(
    readHuntOutput(input, (m) => {
      bad++;
      if (bad <= 20) say(m);
    }),
    {
      title: opts.title ?? basename(input).replace(/\.jsonl?$/i, ''),
      tool: 'spoor',
      ...(kb ? { kb } : {}),
      ...(note ? { attributionNote: note } : {}),
      analyst: (e) => addAnalystEvidence(e, { sector: opts.sector ?? [], country: opts.country ?? [], top: opts.top ?? '5' }),
      top: Number(opts.top) || 5,
      ...(mailAccess ? { mailAccess } : {}),
    },
  );
  if (bad > 20) say(`… ${bad - 20} more bad lines`);
  for (const file of writeCase(report, dir, opts.format, kb)) say(`wrote ${file}`);
  say(`${report.summary.detections} detections, ${report.techniques.length} techniques${report.attribution ? `, leading hypothesis ${report.attribution.candidates[0]?.name ?? 'none'}` : ''}`);
  return bad ? ExitCode.Unreadable : ExitCode.Ok;
}

export function reportCommand(): Command {
  return addAttributionOptions(
    new Command('report')
      .description('make a self-contained HTML report, a STIX 2.1 bundle and an ATT&CK Navigator layer from a hunt\'s detections')
      .requiredOption('-i, --input <file>', "a hunt's JSONL output (spoor hunt -f jsonl, or spoor exchange scan -f jsonl)")
      .requiredOption('-o, --output <dir>', `folder to write ${Object.values(REPORT_FILES).join(', ')} into`)
      .option('-f, --format <formats>', `which files (${REPORT_FORMATS.join(', ')}; comma-separated)`, parseFormats, [...REPORT_FORMATS])
      .option('--title <title>', "the report's title (default: the input's name)")
      .option('--no-attribute', 'leave attribution out (it needs ATT&CK: spoor update, or --attack)'),
  )
    .addHelpText('after', `
The HTML report opens with no network: summary, a timeline of detections by level, the ATT&CK
matrix as a heat map, Exchange exposure, the mailboxes reached (from ${MAIL_ACCESS_FILE} beside the
input, which exchange scan, mail-access and hunt --mail-json write), the attribution's competing hypotheses and the detections
(sortable, filterable, each opening to its event). The STIX bundle holds the intrusion as a campaign
with the attack patterns, software and CVEs seen, the matched indicators with their sightings, and
the leading intrusion sets with attributed-to relationships whose confidence is the probability.
Exit status: 0 on success, 1 when the input (or a line of it) or ATT&CK cannot be read, 2 on bad usage.`)
    .action(async (opts: ReportCliOptions & { input: string }) => {
      const say = (m: string) => process.stderr.write(`spoor report: ${m}\n`);
      if (!existsSync(opts.input) || !statSync(opts.input).isFile()) {
        say(`${opts.input}: no such file`);
        process.exitCode = ExitCode.Unreadable;
        return;
      }
      try {
        process.exitCode = await makeReport(opts.input, opts.output, opts, say);
      } catch (e) {
        if (!(e instanceof HuntOutputError || e instanceof KnowledgeError || e instanceof MailAccessFileError)) throw e;
        say(e.message);
        process.exitCode = ExitCode.Unreadable;
      }
    });
}
