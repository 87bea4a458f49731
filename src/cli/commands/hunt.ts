import { createWriteStream, existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { Correlator } from '../../hunt/correlate.js';
import { Worker } from 'node:worker_threads';
import { runOrdered } from '../../common/ordered-pool.js';
import { correlationDetection, type Detection, detectionsOf, type HuntStats, huntUnit, planHuntUnits, type UnitHunt } from '../../hunt/hunt.js';
import type { HuntWorkerData } from '../../hunt/hunt-worker.js';
import { chooseHuntThreads } from '../../hunt/threads.js';
import { CSV_HEADER, detectionCsv, detectionJson, detectionRow, formatTable, levelRank, LEVELS } from '../../report/detections.js';
import { RuleIndex } from '../../hunt/rule-index.js';
import type { Pipeline } from '../../sigma/pipeline.js';
import { loadRuleSet } from '../../sigma/ruleset.js';
import { collectInputs, type Inputs } from '../inputs.js';
import { ExitCode, parseThreads } from '../options.js';
import { StreamOutput } from '../output.js';
import { isRuleError, loadPipelineOrExit } from './rules.js';

interface HuntOptions {
  rules?: string[];
  pipeline?: string;
  format: 'table' | 'jsonl' | 'csv';
  output?: string;
  failOn?: string;
  threads?: number;
}

const isEvidenceName = (name: string) => /\.(evtx|json|jsonl|ndjson)$/i.test(name);

export function huntCommand(): Command {
  return new Command('hunt')
    .description('run Sigma rules over evidence (EVTX files, JSON or JSONL events in evtx_dump shape)')
    .argument('<paths...>', 'evidence files, or directories searched recursively')
    .option('-r, --rules <paths...>', 'Sigma rule files or directories (may be given more than once)')
    .option('-p, --pipeline <file>', 'processing pipeline instead of the built-in Windows one')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'jsonl', 'csv']).default('table'))
    .option('-o, --output <file>', 'write detections to a file instead of stdout')
    .option('-t, --threads <n>', 'threads hunting (0: one per core, when the input is large enough to pay for them)', parseThreads, 0)
    .addOption(new Option('--fail-on <level>', 'exit 1 when a detection is at or above this level').choices([...LEVELS]))
    .addHelpText('after', `
Rules that cannot be used are reported on stderr and the others still run. Exit status: 0 on a
clean run (with or without detections), 1 with --fail-on when a detection reaches that level or when
an input could not be read at all, 2 on a usage error (also: a --rules path that does not exist, or
no rule loaded at all).`)
    .action(async (paths: string[], opts: HuntOptions) => {
      process.exitCode = await hunt(paths, opts);
    });
}

async function hunt(paths: string[], opts: HuntOptions): Promise<number> {
  if (!opts.rules?.length) {
    process.stderr.write('spoor hunt: no rules: give --rules with SigmaHQ rule folders or files\n');
    return ExitCode.Usage;
  }
  const pipeline = loadPipelineOrExit(opts.pipeline, 'hunt');
  if (!pipeline) return ExitCode.Usage;
  const missing = opts.rules.filter((p) => !existsSync(p));
  if (missing.length) {
    for (const p of missing) process.stderr.write(`spoor hunt: --rules ${p}: no such file or directory\n`);
    return ExitCode.Usage;
  }
  const inputs = collectInputs(paths, isEvidenceName);
  for (const e of inputs.errors) process.stderr.write(`spoor hunt: ${e}\n`);
  // Other threads start now: they load the rules while this one does.
  const threads = chooseHuntThreads(inputs.files, opts.threads ?? 0);
  const workerData: HuntWorkerData = { rules: opts.rules, pipeline: opts.pipeline };
  const workers = Array.from({ length: threads - 1 }, () => new Worker(new URL('../../hunt/hunt-worker.js', import.meta.url), { workerData }));
  try {
    return await huntWith({ ...opts, rules: opts.rules }, pipeline, inputs, threads, workers);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

async function huntWith(opts: HuntOptions & { rules: string[] }, pipeline: Pipeline, inputs: Inputs, threads: number, workers: Worker[]): Promise<number> {
  const ruleSet = loadRuleSet(opts.rules, pipeline, { onLateProblem: (p) => process.stderr.write(`spoor hunt: ${p.file}:${p.line}: rule not loaded: ${p.reason}\n`) });
  const errors = ruleSet.problems.filter(isRuleError);
  for (const p of errors) process.stderr.write(`spoor hunt: ${p.file}:${p.line}: rule not loaded: ${p.reason}\n`);
  process.stderr.write(`spoor hunt: ${ruleSet.rules.length} rules and ${ruleSet.correlations.length} correlations loaded, ${ruleSet.problems.length - errors.length} set aside, ${errors.length} in error\n`);

  if (ruleSet.rules.length === 0) {
    process.stderr.write('spoor hunt: no rule could be loaded; nothing to hunt with\n');
    return ExitCode.Usage;
  }
  const stream = opts.output ? createWriteStream(opts.output) : process.stdout;
  const out = new StreamOutput(stream);
  const stats: HuntStats = { files: 0, events: 0, detections: 0, unreadable: [] };
  const rows: string[][] = [];
  let worst = -1;
  if (opts.format === 'csv') await out.write(CSV_HEADER.join(',') + '\n');
  const emit = async (d: Detection) => {
    worst = Math.max(worst, levelRank(d.rule.rule.level));
    if (opts.format === 'jsonl') await out.write(detectionJson(d) + '\n');
    else if (opts.format === 'csv') await out.write(detectionCsv(d) + '\n');
    else rows.push(detectionRow(d));
  };
  const index = new RuleIndex(ruleSet.rules);
  const correlator = ruleSet.correlations.length ? new Correlator(ruleSet.correlations) : undefined;
  const units = planHuntUnits(inputs.files);
  await runOrdered({
    tasks: units,
    workers,
    runHere: (u) => huntUnit(u, index),
    window: threads * 16,
    waitReady: true,
    message: { expectedRules: ruleSet.rules.length },
    onResult: async (unit, found: UnitHunt) => {
      for (const m of found.diagnostics) process.stderr.write(`spoor hunt: ${m}\n`);
      for (const d of detectionsOf(unit, found, ruleSet.rules, stats, correlator)) await emit(d);
    },
  });
  for (const c of correlator?.finish() ?? []) {
    stats.detections++;
    await emit(correlationDetection(c));
  }
  if (opts.format === 'table') await out.write(rows.length ? formatTable(rows, ['time (UTC)', 'level', 'rule', 'computer', 'event']) : '');
  if (opts.output) await new Promise<void>((resolve) => (stream as ReturnType<typeof createWriteStream>).end(resolve));
  process.stderr.write(`spoor hunt: ${stats.files} files, ${stats.events} events, ${stats.detections} detections\n`);
  const unreadable = stats.unreadable.length + inputs.errors.length;
  if (opts.failOn && worst >= levelRank(opts.failOn)) return ExitCode.Unreadable;
  return unreadable > 0 ? ExitCode.Unreadable : ExitCode.Ok;
}
