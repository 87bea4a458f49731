import { cvesIn, cvesOfTags } from '../common/cve.js';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Event } from '../evidence/event.js';
import { compileDetection, detectionFields, detectionKeywords, detectionLiteralOptions, detectionLiterals, type Predicate } from './compile.js';
import { type Correlation, parseCorrelation } from './correlation.js';
import { RuleError } from './errors.js';
import { type Pipeline, sourcesFor } from './pipeline.js';
import { type RuleCheck, RuleFileCache } from './rule-cache.js';
import { readRuleFile, type RuleProblem, type SigmaRule } from './rule.js';

/** A rule ready to run: for each log source it stands for, which events belong and what matches. */
export interface CompiledRule {
  rule: SigmaRule;
  /** ATT&CK technique ids from the rule's tags (`attack.t1059.001` → `T1059.001`). */
  techniques: string[];
  /** CVE ids the rule names: in `cve.*` tags, its title, description or references. */
  cves: string[];
  /** The event fields the rule's detection tests, under the names its log sources give them. */
  fields: string[];
  /** The keywords it searches every value for (keyword rules), for showing what matched. */
  keywords?: string[];
  /** One per pipeline source the rule's logsource stands for. */
  alternatives: RuleAlternative[];
  /** Whether the rule matches an event (any alternative). */
  match: Predicate;
}

/** A rule on one log source: the events that belong to it, and the rule's detection there. */
export interface RuleAlternative {
  rule: CompiledRule;
  /** Lower-cased channels and event ids the source names (undefined: any), for indexing. */
  channels: ReadonlySet<string> | undefined;
  eventIds: ReadonlySet<string> | undefined;
  belongs: Predicate;
  /** `belongs` without the Channel and EventID checks, for an index that has made them. */
  belongsBesidesIndex: Predicate;
  matches: Predicate;
  /** The source's field renames, for filters compiled against it. */
  fieldMap: ReadonlyMap<string, string>;
  /** Lower-cased literals one of which occurs in every event the rule matches (undefined: no such set). */
  literals: string[] | undefined;
  /** Several such sets (each necessary), for a prefilter that chooses the one that fires least on the data. */
  literalOptions: string[][];
}

export interface RuleSet {
  rules: CompiledRule[];
  /** Correlation rules whose referred rules are all loaded. */
  correlations: Correlation[];
  problems: RuleProblem[];
  /** Rule files read. */
  files: number;
}

/**
 * The rule files under the paths, each once however often it is reached (`--rules rules rules`, a
 * folder and a file inside it, a link to it): a rule file given twice would report every detection twice.
 */
export function ruleFiles(paths: readonly string[]): { files: string[]; problems: RuleProblem[] } {
  const files: string[] = [];
  const problems: RuleProblem[] = [];
  const seen = new Set<string>();
  const add = (p: string, real = realPath(p)) => {
    if (seen.has(real)) return;
    seen.add(real);
    files.push(p);
  };
  // Inside a folder only plain files and folders are followed (not links), so a file's real path is
  // its folder's and its name: one realpath per folder given, not one per file (3,800 for SigmaHQ).
  const walk = (dir: string, realDir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p, join(realDir, d.name));
      else if (d.isFile() && /\.ya?ml$/i.test(d.name)) add(p, join(realDir, d.name));
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      problems.push({ file: p, line: 0, reason: 'no such file or directory' });
      continue;
    }
    if (st.isDirectory()) walk(p, realPath(p));
    else add(p);
  }
  return { files, problems };
}

function realPath(p: string): string {
  try {
    return realpathSync.native(p);
  } catch {
    // An unreadable file is reported when it is read.
    return p;
  }
}

export function techniquesOf(tags: readonly string[]): string[] {
  return tags.filter((t) => /^attack\.t\d{4}(\.\d{3})?$/i.test(t)).map((t) => t.slice(7).toUpperCase());
}

/** The CVEs a rule is about: tagged, or named in its title, description or references (SigmaHQ tags few). */
export function cvesOf(rule: Pick<SigmaRule, 'tags' | 'title' | 'description' | 'references'>): string[] {
  return [...new Set([...cvesOfTags(rule.tags), ...cvesIn([rule.title, rule.description ?? '', ...rule.references].join('\n'))])];
}

/**
 * Bumped whenever compiling a rule may find something else (a new modifier, other literals), so that
 * what the rule cache remembers of earlier compilations is not trusted.
 */
const COMPILER_VERSION = 4;

/**
 * Compiles one rule against a pipeline; a string is the reason it cannot be used. With `known`
 * (what an earlier compilation under the same pipeline found: each alternative's literals), the
 * detection is compiled when an event first reaches it: most rules of a large set never meet an
 * event of their log source, and compiling them all would cost more than the hunt.
 */
export function compileRule(rule: SigmaRule, pipeline: Pipeline, known?: RuleCheck, onLateProblem?: (p: RuleProblem) => void): CompiledRule | string {
  if (rule.status === 'deprecated') return 'deprecated';
  const sources = sourcesFor(pipeline, rule.logsource);
  if (sources.length === 0) {
    const ls = Object.entries(rule.logsource).filter(([k]) => k !== 'definition').map(([k, v]) => `${k}: ${v}`).join(', ');
    return `unsupported logsource (${ls}): no entry in pipeline "${pipeline.name}"`;
  }
  const fields = [...new Set(sources.flatMap((source) => detectionFields(rule.detection, source.fields)))];
  const keywords = detectionKeywords(rule.detection);
  const compiled: CompiledRule = { rule, techniques: techniquesOf(rule.tags), cves: cvesOf(rule), fields, ...(keywords.length ? { keywords } : {}), alternatives: [], match: () => false };
  sources.forEach((source, i) => {
    const options = { fieldMap: source.fields, placeholders: pipeline.placeholders };
    const literals = known?.literals && i < known.literals.length ? (known.literals[i] ?? undefined) : detectionLiterals(rule.detection, options);
    const literalOptions = known?.literalOptions && i < known.literalOptions.length ? known.literalOptions[i]! : detectionLiteralOptions(rule.detection, options);
    compiled.alternatives.push({
      rule: compiled,
      channels: source.channels,
      eventIds: source.eventIds,
      belongs: source.belongs,
      belongsBesidesIndex: source.belongsBesidesIndex,
      matches: known ? lateDetection(rule, () => compileDetection(rule.detection, options), onLateProblem) : compileDetection(rule.detection, options),
      literals,
      literalOptions,
      fieldMap: source.fields,
    });
  });
  const alternatives = compiled.alternatives;
  compiled.match = (e: Event) => alternatives.some((a) => a.belongs(e) && a.matches(e));
  return compiled;
}

/** A detection compiled on first use. Should it fail after all (a cache from other code), the rule matches nothing and says why once. */
function lateDetection(rule: SigmaRule, compile: () => Predicate, onLateProblem?: (p: RuleProblem) => void): Predicate {
  let predicate: Predicate | undefined;
  return (e) => {
    if (!predicate) {
      try {
        predicate = compile();
      } catch (err) {
        if (!(err instanceof RuleError)) throw err;
        predicate = () => false;
        onLateProblem?.({ file: rule.file, line: problemLine(rule, err), id: rule.id, title: rule.title, reason: err.message });
      }
    }
    return predicate(e);
  };
}

const problemLine = (rule: SigmaRule, e: RuleError) => rule.keyLines.get(e.path.join('/')) ?? rule.keyLines.get(e.path[0] ?? '') ?? rule.detectionLine;

export interface LoadOptions {
  /** Compile every rule now, trusting nothing remembered (`rules check`). */
  eager?: boolean;
  /** Told of a rule that fails to compile when first used (only possible with a stale cache). */
  onLateProblem?: (p: RuleProblem) => void;
}

/** Loads every rule under the paths; rules that cannot be used are listed with file, line and reason. */
export function loadRuleSet(paths: readonly string[], pipeline: Pipeline, options: LoadOptions = {}): RuleSet {
  const { files, problems } = ruleFiles(paths);
  const rules: CompiledRule[] = [];
  const cache = process.env.SPOOR_NO_CACHE ? undefined : new RuleFileCache();
  const checkKey = `${COMPILER_VERSION}:${pipeline.fingerprint}`;
  const correlations: Correlation[] = [];
  const filters: SigmaRule[] = [];
  const loadedIds = new Map<string, string>();
  for (const file of files) {
    const read: ReturnType<RuleFileCache["read"]> = cache ? cache.read(file, checkKey) : readRuleFile(file);
    const known = options.eager ? undefined : read.checks;
    const checks: (RuleCheck | null)[] = [];
    problems.push(...read.problems);
    read.rules.forEach((rule, i) => {
      checks.push(null);
      if (rule.kind === 'filter') return void filters.push(rule);
      if (rule.kind === 'correlation') {
        try {
          correlations.push(parseCorrelation(rule));
        } catch (e) {
          if (!(e instanceof RuleError)) throw e;
          problems.push({ file, line: rule.line, id: rule.id, title: rule.title, reason: `correlation: ${e.message}` });
        }
        return;
      }
      // The same rule in two files (a copy of a rule set beside the original): loaded once.
      const first = rule.id ? loadedIds.get(rule.id) : undefined;
      if (first) return void problems.push({ file, line: rule.line, id: rule.id, title: rule.title, reason: `duplicate of the rule with the same id at ${first}: loaded once` });
      const check = known?.[i] ?? undefined;
      if (check?.error) return void problems.push({ file, line: check.error.line, id: rule.id, title: rule.title, reason: check.error.reason });
      try {
        const compiled = compileRule(rule, pipeline, check, options.onLateProblem);
        if (typeof compiled === 'string') problems.push({ file, line: rule.line, id: rule.id, title: rule.title, reason: compiled });
        else {
          rules.push(compiled);
          if (rule.id) loadedIds.set(rule.id, `${file}:${rule.line}`);
          checks[i] = { literals: compiled.alternatives.map((a) => a.literals ?? null), literalOptions: compiled.alternatives.map((a) => a.literalOptions) };
        }
      } catch (e) {
        if (!(e instanceof RuleError)) throw e;
        const line = problemLine(rule, e);
        problems.push({ file, line, id: rule.id, title: rule.title, reason: e.message });
        checks[i] = { error: { line, reason: e.message } };
      }
    });
    if (!known) cache?.recordChecks(file, checkKey, checks);
  }
  cache?.save();
  for (const f of filters) applyFilter(f, rules, pipeline, problems);
  return { rules, correlations: resolveCorrelations(correlations, rules, problems), problems, files: files.length };
}

/** Keeps the correlations whose rules (by id or name) are loaded, directly or through other correlations. */
function resolveCorrelations(correlations: Correlation[], rules: CompiledRule[], problems: RuleProblem[]): Correlation[] {
  const known = new Set<string>();
  for (const r of rules) for (const k of [r.rule.id, r.rule.name]) if (k) known.add(k);
  let kept = correlations;
  for (;;) {
    const keys = new Set(known);
    for (const c of kept) for (const k of [c.rule.id, c.rule.name]) if (k) keys.add(k);
    const next = kept.filter((c) => c.refs.every((r) => keys.has(r)));
    if (next.length === kept.length) break;
    kept = next;
  }
  for (const c of correlations) {
    if (kept.includes(c)) continue;
    const keys = new Set([...known, ...kept.flatMap((k) => [k.rule.id, k.rule.name])]);
    const missing = c.refs.filter((r) => !keys.has(r));
    problems.push({ file: c.rule.file, line: c.rule.line, id: c.rule.id, title: c.rule.title, reason: `correlation refers to rules that are not loaded: ${missing.join(', ')}` });
  }
  return kept;
}

/**
 * A Sigma filter (global filter) suppresses matches of the rules it names: where its condition holds,
 * those rules do not match. Its selections use the field names of each rule's log source.
 */
function applyFilter(filter: SigmaRule, rules: CompiledRule[], pipeline: Pipeline, problems: RuleProblem[]): void {
  const problem = (reason: string) => problems.push({ file: filter.file, line: filter.line, id: filter.id, title: filter.title, reason });
  const { rules: refs, ...detection } = filter.filter ?? {};
  const names = Array.isArray(refs) ? refs.map(String) : refs === undefined ? [] : [String(refs)];
  if (names.length === 0) return void problem('filter: needs "rules"');
  const targets = rules.filter((r) => names.includes(r.rule.id ?? '') || names.includes(r.rule.name ?? ''));
  if (targets.length === 0) return void problem(`filter refers to rules that are not loaded: ${names.join(', ')}`);
  let compiled: { alt: RuleAlternative; suppress: Predicate }[];
  try {
    compiled = targets.flatMap((t) => t.alternatives.map((alt) => ({ alt, suppress: compileDetection(detection, { fieldMap: alt.fieldMap, placeholders: pipeline.placeholders }) })));
  } catch (e) {
    if (!(e instanceof RuleError)) throw e;
    return void problem(`filter: ${e.message}`);
  }
  for (const { alt, suppress } of compiled) {
    const matches = alt.matches;
    alt.matches = (e) => matches(e) && !suppress(e);
  }
  for (const target of targets) {
    const alternatives = target.alternatives;
    target.match = (e: Event) => alternatives.some((a) => a.belongs(e) && a.matches(e));
  }
}
