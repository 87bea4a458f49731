import { Command } from 'commander';
import { DEFAULT_PIPELINE, loadPipelines, type Pipeline, PipelineError } from '../../sigma/pipeline.js';
import type { RuleProblem } from '../../sigma/rule.js';
import { loadRuleSet } from '../../sigma/ruleset.js';
import { ExitCode } from '../options.js';

/** Reasons a rule is set aside that say nothing is wrong with it. */
const SET_ASIDE = /^(deprecated|unsupported logsource|correlation refers to rules that are not loaded|filter refers to rules that are not loaded|duplicate of the rule with the same id)|placeholder %/;

export function isRuleError(p: RuleProblem): boolean {
  return !SET_ASIDE.test(p.reason);
}

export function loadPipelineOrExit(paths: readonly (string | URL)[] | undefined, command: string): Pipeline | undefined {
  try {
    return loadPipelines(paths?.length ? paths : [DEFAULT_PIPELINE]);
  } catch (e) {
    if (!(e instanceof PipelineError)) throw e;
    process.stderr.write(`spoor ${command}: ${e.message}\n`);
    process.exitCode = ExitCode.Usage;
    return undefined;
  }
}

export function rulesCommand(): Command {
  const rules = new Command('rules').description('work with Sigma rules');
  rules
    .command('check')
    .description('load Sigma rules and report every rule that cannot be used, with file, line and reason')
    .argument('<paths...>', 'rule files, or directories searched recursively for *.yml')
    .option('-p, --pipeline <file>', 'processing pipeline (log sources and field names) instead of the built-in one (repeatable: files merged in order)', (v: string, p: string[] = []) => [...p, v])
    .option('-q, --quiet', 'print only the summary and the rules in error, not the rules set aside', false)
    .addHelpText('after', `
A rule is loaded, set aside (deprecated, a log source the pipeline does not map, a placeholder
without values, a correlation or filter whose rules are not loaded), or in error (invalid YAML, unknown modifier,
bad condition …). Exit status: 0 when no rule is in error, 1 when some are, 2 on a usage error.`)
    .action((paths: string[], opts: { pipeline?: string[]; quiet: boolean }) => {
      const pipeline = loadPipelineOrExit(opts.pipeline, 'rules check');
      if (!pipeline) return;
      const set = loadRuleSet(paths, pipeline, { eager: true });
      const errors = set.problems.filter(isRuleError);
      const aside = set.problems.filter((p) => !isRuleError(p));
      for (const p of [...(opts.quiet ? [] : aside), ...errors]) {
        const what = [p.id, p.title && `"${p.title}"`].filter(Boolean).join(' ');
        process.stdout.write(`${p.file}:${p.line}: ${isRuleError(p) ? 'error' : 'set aside'}: ${what ? what + ': ' : ''}${p.reason}\n`);
      }
      process.stdout.write(`${set.files} rule files: ${set.rules.length} rules and ${set.correlations.length} correlations loaded, ${aside.length} set aside, ${errors.length} in error (pipeline "${pipeline.name}")\n`);
      process.exitCode = errors.length > 0 ? ExitCode.Unreadable : ExitCode.Ok;
    });
  return rules;
}
