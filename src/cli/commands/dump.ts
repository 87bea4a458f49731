import { Command, Option } from 'commander';
import { type EvtxDiagnostic, type EvtxFileSummary, formatDiagnostic } from '../../evidence/evtx/index.js';
import { parseUnits } from '../../evidence/evtx/parallel.js';
import { planUnits } from '../../evidence/evtx/work.js';
import { collectInputs, isEvtxName } from '../inputs.js';
import { StreamOutput } from '../output.js';
import { ExitCode, parseThreads } from '../options.js';

interface DumpOptions {
  format: 'jsonl' | 'xml';
  threads: number;
  verbose: boolean;
}

export function dumpCommand(): Command {
  return new Command('dump')
    .description('print the records of EVTX files as JSON lines (evtx_dump shape) or XML (Event Viewer shape)')
    .argument('<paths...>', 'EVTX files, or directories searched recursively for *.evtx')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['jsonl', 'xml']).default('jsonl'))
    .option('-t, --threads <n>', 'worker threads (0 = one per core when the input is large enough)', parseThreads, 0)
    .option('-v, --verbose', 'also list warnings (checksum mismatches, dirty files), not only errors', false)
    .addHelpText('after', `
Records go to stdout in file order, then record order. Problems go to stderr with the file, chunk,
offset and reason; a corrupt chunk or record is skipped and the rest of the file is still read.

Exit status: 0 when every file could be read (even if some records were skipped),
1 when a file could not be read at all (missing, unreadable, not EVTX), 2 on a usage error.`)
    .action(async (paths: string[], opts: DumpOptions) => {
      process.exitCode = await dump(paths, opts);
    });
}

async function dump(paths: string[], opts: DumpOptions): Promise<number> {
  const inputs = collectInputs(paths, isEvtxName);
  for (const e of inputs.errors) process.stderr.write(`spoor dump: ${e}\n`);
  const out = new StreamOutput(process.stdout);
  const files = new Map<string, EvtxFileSummary>();
  let warnings = 0;
  const show = (d: EvtxDiagnostic) => {
    if (d.severity === 'warning' && !opts.verbose) warnings++;
    else process.stderr.write(formatDiagnostic(d) + '\n');
  };
  const units = inputs.files.flatMap((f) => planUnits(f.path, f.size));
  await parseUnits(units, {
    mode: opts.format === 'xml' ? 'xml' : 'json',
    threads: opts.threads,
    onResult: async (unit, result) => {
      result.diagnostics.forEach(show);
      const seen = files.get(unit.file);
      if (!seen || unit.part === 0) files.set(unit.file, result.summary);
      else seen.records += result.summary.records;
      await out.write(result.data);
    },
  });
  const unreadable = [...files.values()].filter((s) => !s.readable).length + inputs.errors.length;
  const records = [...files.values()].reduce((n, s) => n + s.records, 0);
  if (warnings > 0) process.stderr.write(`spoor dump: ${warnings} warning(s) not shown (use --verbose)\n`);
  if (unreadable > 0) process.stderr.write(`spoor dump: ${unreadable} input(s) could not be read; ${records} records from the others\n`);
  return unreadable > 0 ? ExitCode.Unreadable : ExitCode.Ok;
}
