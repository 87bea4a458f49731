import { createWriteStream, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Command, InvalidArgumentError, Option } from 'commander';
import { collectGarbage, GarbagePacer } from '../../common/memory.js';
import { runOrdered } from '../../common/ordered-pool.js';
import { threadsFor } from '../../common/threads.js';
import { Correlator, MAX_HELD_EVENTS } from '../../hunt/correlate.js';
import { correlationDetection, countForCorrelations, type Detection, detectionsOf, holdsDefenderRows, type HuntStats, type HuntUnit, huntUnit, PLACE_FIELDS, planHuntUnits, type TimeWindow, type UnitHunt, unitSize, within } from '../../hunt/hunt.js';
import type { HuntWorkerData } from '../../hunt/hunt-worker.js';
import { RuleIndex } from '../../hunt/rule-index.js';
import { LEVELS, levelRank, listOption, type RuleSelection, selectRules } from '../../hunt/rule-selection.js';
import { CSV_HEADER, detectionCsv, detectionJson, detectionRow, detectionTimesketch, formatTable, timeFormatter } from '../../report/detections.js';
import { HuntSummary } from '../../report/summary.js';
import { TimelineSorter } from '../../report/timeline-sort.js';
import { DEFAULT_PIPELINE, DEFENDER_PIPELINE, type Pipeline } from '../../sigma/pipeline.js';
import { loadRuleSet } from '../../sigma/ruleset.js';
import { AutomatonCache } from '../../sigma/automaton-cache.js';
import { FeedError, loadFeed } from '../../hunt/ioc/feeds.js';
import type { Indicator } from '../../hunt/ioc/indicator.js';
import { IocMatcher } from '../../hunt/ioc/matcher.js';
import { expandArchives } from '../archives.js';
import { defaultRules } from '../default-rules.js';
import { collectInputs, globFilter, type Inputs } from '../inputs.js';
import { ExitCode, parseThreads } from '../options.js';
import { StreamOutput } from '../output.js';
import { HuntProgress, StepProgress } from '../progress.js';
import { addAttributionOptions, addReportOptions } from './case-options.js';
import { addMailAccessOptions, type MailAccessOptions, mailAccessOptionError, mailAccessStage, wantsMailAccess, withReportMailJson } from './mail-access-stage.js';
import { mailAccessText } from '../../report/mail-access.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ReportFormat } from '../../report/formats.js';
import type { CompiledRule } from '../../sigma/ruleset.js';
import { isRuleError, loadPipelineOrExit } from './rules.js';

type Format = 'table' | 'jsonl' | 'csv' | 'timesketch';

export interface HuntOptions {
  rules?: string[];
  pipeline?: string[];
  format: Format;
  output?: string;
  failOn?: string;
  threads?: number;
  level?: string;
  status?: string[];
  tags?: string[];
  ruleId?: string[];
  from?: number;
  to?: number;
  timezone?: string;
  verbose?: boolean;
  progress?: boolean;
  progressJson?: boolean;
  /** --engine clickhouse://…: run the rules as SQL where the events were ingested. */
  engine?: string;
  /** With --engine: only files not yet hunted by this rule set. */
  sinceLast?: boolean;
  sort: 'time' | 'none';
  timeField?: string;
  include?: string[];
  exclude?: string[];
  /** Folders a symbolic link met in a directory may lead into (else it is skipped). */
  within?: string[];
  ioc?: string[];
  /** --attribute: rank threat groups from the detections after the summary. */
  attribute?: boolean;
  attack?: string;
  sector?: string[];
  country?: string[];
  top?: string;
  /** --report DIR: also write the detections and the report files there. */
  report?: string;
  reportFormat?: ReportFormat[];
  title?: string;
}

/** How a command runs a hunt: its name in messages, default rules, and findings of its own to report with the detections. */
export interface HuntRun {
  command: string;
  /** Rules to use when --rules gives none (said on stderr). */
  rules?: { paths: string[]; source: string };
  /** Detections made before the hunt (files on disk, YARA, exposure), reported with the others. */
  findings?: (iocs: IocMatcher | undefined) => Promise<Detection[]> | Detection[];
  /** Lines to add to the summary. */
  summary?: () => string[];
  /** Files of no format Spoor reads are expected (a server's folder holds pages, binaries …): counted, not listed. */
  expectOtherFiles?: boolean;
  /** Sees every detection reported. */
  observe?: (d: Detection) => void;
  /** Detections are not printed (the command prints what it makes of them): the summary still is. */
  quiet?: boolean;
  /** Work on the same units after the hunt and its summary (before attribution): a command's own section. */
  after?: (units: readonly HuntUnit[]) => Promise<void>;
}

/** In a directory walk every file is read by content; these only skip what is certainly not evidence. */
const isEvidenceName = (name: string) => !/\.(exe|dll|sys|pdb|png|jpe?g|gif|ico|pf|lnk|dat|db|sqlite|hve|log1|log2|regtrans-ms|blf)$/i.test(name);

function parseTime(value: string): number {
  // A date alone is midnight UTC; a time without a zone is UTC too (events are stored in UTC).
  const iso = /^\d{4}-\d\d-\d\d$/.test(value) ? `${value}T00:00:00Z` : /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const t = Date.parse(iso.replace(' ', 'T'));
  if (Number.isNaN(t)) throw new InvalidArgumentError('expected an ISO-8601 date or time, e.g. 2021-03-02 or 2021-03-02T23:00:00Z');
  return t;
}

function parseTimeZone(value: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return value;
  } catch {
    throw new InvalidArgumentError('expected an IANA time zone, e.g. UTC or Europe/Berlin');
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The options hunt and exchange scan share: what to read, which rules and indicators, what to write. */
export function addHuntOptions(command: Command, rulesHelp: string, attributeByDefault = false): Command {
  const attribution = attributeByDefault
    ? command.option('--no-attribute', 'no attribution after the summary (by default the threat groups the findings point to are ranked there)')
    : command.option('--attribute', 'after the summary, rank the threat groups the detections point to');
  return addReportOptions(addAttributionOptions(attribution.option('--report <dir>', 'also write the detections (detections.jsonl), an HTML report, a STIX 2.1 bundle and an ATT&CK Navigator layer into this folder'))
    .option('--include <glob>', 'in directories, hunt only files matching this glob (repeatable; a glob without / matches names: *.evtx)', collect)
    .option('--exclude <glob>', 'in directories, leave out files matching this glob (repeatable)', collect)
    .option('--within <dir>', 'in directories, follow a symbolic link only to a place inside this folder (repeatable; links out of them are named and skipped)', collect)
    .option('-r, --rules <paths...>', rulesHelp)
    .option('-p, --pipeline <file>', 'processing pipeline instead of the built-in one (repeatable: files merged in order; by default Defender for Endpoint\'s tables are added when the input holds them)', collect)
    .addOption(new Option('-f, --format <format>', 'output format (timesketch: JSONL ready for Timesketch import)').choices(['table', 'jsonl', 'csv', 'timesketch']).default('table'))
    .option('-o, --output <file>', 'write detections to a file instead of stdout')
    .option('-t, --threads <n>', 'threads hunting (0: one on machines of two cores or fewer, to keep memory under 300 MB; else one per core once the input is large enough)', parseThreads, 0)
    .addOption(new Option('--level <level>', 'run only rules at or above this level').choices([...LEVELS]))
    .option('--status <status>', 'run only rules of this status (repeatable, or comma-separated: stable,test)', collect)
    .option('--tags <tag>', 'run only rules with one of these tags or ATT&CK techniques (attack.execution, T1059; repeatable, comma-separated)', collect)
    .option('--rule-id <id>', 'run only these rules (repeatable, comma-separated)', collect)
    .option('--from <time>', 'report only events at or after this time (ISO-8601; UTC unless a zone is given)', parseTime)
    .option('--to <time>', 'report only events at or before this time', parseTime)
    .option('--time-field <name>', 'the column (CSV) or key (flat JSON) holding each event\'s time (default: the first of TimeCreated, Date and Time, TimeGenerated, @timestamp, timestamp, UtcTime …)')
    .option('--timezone <zone>', 'show times in this IANA time zone in the table and summary (JSONL and CSV stay UTC)', parseTimeZone)
    .addOption(new Option('--sort <order>', 'time: detections in event-time order across all inputs (sorted on disk past 8 MB); none: as found, file by file').choices(['time', 'none']).default('time'))
    .option('-v, --verbose', 'list every rule not loaded, with the reason')
    .option('--no-progress', 'no progress bar (it shows only on a terminal, and never when CI is set)')
    .option('--progress-json', 'progress as JSON lines on stderr, for programs driving spoor (the web UI does)')
    .addOption(new Option('--fail-on <level>', 'exit 1 when a detection is at or above this level').choices([...LEVELS]))
    .option('--ioc <file>', 'an indicator feed to match every event against: STIX 2.1 bundle, MISP JSON, CSV, CHIRP YAML or plain list (repeatable)', collect));
}

export function huntCommand(): Command {
  return addMailAccessOptions(addHuntOptions(
    new Command('hunt')
      .description('run Sigma rules (and indicators of compromise) over evidence: EVTX, JSON/JSONL (evtx_dump, Winlogbeat/ECS or flat), XML event exports, IIS and Exchange logs, CSV, zip archives of these')
      .argument('[paths...]', 'evidence files, or directories searched recursively (none with --engine)')
      .option('--engine <url>', 'hunt in ClickHouse instead (clickhouse://HOST:PORT/DATABASE, filled by spoor ingest): the rules run there as SQL; correlations and --ioc feeds are applied to what the database returns')
      .option('--since-last', 'with --engine: hunt only files ingested since the last --since-last hunt with the same rules and feeds (what was hunted is kept in the table spoor_hunted)'),
    "Sigma rule files or directories (may be given more than once; default: the SigmaHQ rules of spoor update, else Spoor's own)",
  ))
    .addHelpText('after', `
Rules that cannot be used are reported on stderr (all of them with --verbose) and the others still
run. A summary follows the detections on stderr. Exit status: 0 on a clean run (with or without
detections), 1 with --fail-on when a detection reaches that level or when an input could not be read
at all, 2 on a usage error (also: a --rules path that does not exist, or no rule loaded at all).`)
    .action(async (paths: string[], opts: HuntOptions & MailAccessOptions) => {
      if (opts.sinceLast && (!opts.engine || opts.from || opts.to)) {
        process.stderr.write('spoor hunt: --since-last needs --engine (what was hunted is kept in the database) and hunts whole files (no --from or --to)\n');
        process.exitCode = ExitCode.Usage;
        return;
      }
      if (!paths.length && !opts.engine) {
        process.stderr.write('spoor hunt: give evidence files or folders (or --engine clickhouse://… to hunt where they were ingested)\n');
        process.exitCode = ExitCode.Usage;
        return;
      }
      const optionError = mailAccessOptionError(opts);
      if (optionError) {
        process.stderr.write(`spoor hunt: ${optionError}\n`);
        process.exitCode = ExitCode.Usage;
        return;
      }
      // Mail access only when asked for (an --actor-*, --mail-csv or --mail-json option): it reads the evidence a second time.
      const mail = wantsMailAccess(opts) ? mailAccessStage(withReportMailJson(opts), (scope) => void process.stderr.write(`\nMail access (spoor mail-access tells more):\n${mailAccessText(scope)}`)) : {};
      process.exitCode = await runHunt(paths, opts, { command: 'hunt', rules: opts.rules?.length ? undefined : defaultRules(), ...mail });
    });
}

/** Loads the IoC feeds given, saying what each held; undefined (and a message) when one cannot be read. */
function loadIocs(files: readonly string[], say: (m: string) => void): IocMatcher | null | undefined {
  if (!files.length) return undefined;
  const indicators: Indicator[] = [];
  for (const f of files) {
    try {
      const feed = loadFeed(f);
      const kinds = new Map<string, number>();
      for (const i of feed.indicators) kinds.set(i.type, (kinds.get(i.type) ?? 0) + 1);
      const skipped = [...feed.skipped].map(([why, n]) => `${n} ${why}`).join(', ');
      say(`--ioc ${f}: ${feed.format}, ${feed.indicators.length} indicators (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'})${skipped ? `; not used: ${skipped}` : ''}`);
      indicators.push(...feed.indicators);
    } catch (e) {
      if (!(e instanceof FeedError)) throw e;
      say(`--ioc ${e.message}`);
      return null;
    }
  }
  return new IocMatcher(indicators);
}

/**
 * A hunting worker's young generation (V8 gives a thread 48 MB by default). Measured with two threads
 * on one 404 MB EVTX file, five runs interleaved: 24 MB peaked at 337 MiB against 357, in the same
 * time (median 16.9 against 17.1 s); 16 MB no lower. The main thread's can only be set when the
 * process starts (whole-process caps of 16 and 8 MB: 16% and 27% slower, three runs each).
 */
const WORKER_YOUNG_MB = 24;

export async function runHunt(paths: string[], opts: HuntOptions, run: HuntRun): Promise<number> {
  const say = (m: string) => process.stderr.write(`spoor ${run.command}: ${m}\n`);
  if (run.rules) {
    say(`rules: ${run.rules.source}`);
    opts.rules = [...run.rules.paths, ...(opts.rules ?? [])];
  }
  if (!opts.rules?.length) opts.rules = defaultRules().paths;
  const missing = opts.rules.filter((p) => !existsSync(p));
  if (missing.length) {
    for (const p of missing) say(`--rules ${p}: no such file or directory`);
    return ExitCode.Usage;
  }
  const iocs = loadIocs(opts.ioc ?? [], say);
  if (iocs === null) return ExitCode.Usage;
  const collected = collectInputs(paths, isEvidenceName, globFilter(opts.include, opts.exclude), opts.within);
  for (const e of collected.errors) say(e);
  const archives = expandArchives(collected.files, say);
  // Each file is read by content once, here: files of no known format are listed (the first 20, or
  // all with --verbose) and left out.
  const planned = planHuntUnits(archives.files);
  const unknown = planned.filter((u) => u.kind === 'unknown');
  const shown = opts.verbose ? unknown : unknown.slice(0, run.expectOtherFiles ? 0 : 20);
  for (const u of shown) say(`${u.name ?? u.file}: not a format spoor reads (EVTX, JSON, JSONL, XML, IIS/Exchange logs, CSV, zip); skipped`);
  if (unknown.length > shown.length) say(shown.length ? `… and ${unknown.length - shown.length} more files of no known format (--verbose lists them)` : `${unknown.length} files of no log format (pages, binaries, dumps …) left to the file checks (--verbose lists them)`);
  // Defender's device tables are mapped only for an input that holds them: the mapping gives most Windows rules one more alternative to compile.
  const pipelines = opts.pipeline?.length ? opts.pipeline : [fileURLToPath(DEFAULT_PIPELINE), ...(planned.some(holdsDefenderRows) ? [fileURLToPath(DEFENDER_PIPELINE)] : [])];
  const pipeline = loadPipelineOrExit(pipelines, run.command);
  if (!pipeline) {
    archives.cleanup();
    return ExitCode.Usage;
  }
  const known = new Set(planned.filter((u) => u.kind !== 'unknown').map((u) => u.file));
  const inputs: Inputs = { files: archives.files.filter((f) => known.has(f.path)), errors: collected.errors };
  const units = planned.filter((u) => u.kind !== 'unknown');
  const selection: RuleSelection = { level: opts.level, statuses: listOption(opts.status), tags: listOption(opts.tags), ruleIds: listOption(opts.ruleId) };
  // Other threads start now: they load the rules while this one does.
  // A hunting thread (the calling one included) pays past 64 MB: each loads the rules (about a second) first.
  const threads = threadsFor(opts.threads ?? 0, inputs.files.reduce((n, f) => n + f.size, 0), 64 * 1024 * 1024);
  const workerData: HuntWorkerData = { rules: opts.rules, pipeline: pipelines, selection, timeField: opts.timeField, iocs: opts.ioc };
  const workers = Array.from({ length: threads - 1 }, () => new Worker(new URL('../../hunt/hunt-worker.js', import.meta.url), { workerData, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } }));
  try {
    return await huntWith({ ...opts, rules: opts.rules }, run, say, pipeline, selection, inputs, units, threads, workers, iocs);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    archives.cleanup();
  }
}

async function huntWith(
  opts: HuntOptions & { rules: string[] }, run: HuntRun, say: (m: string) => void, pipeline: Pipeline, selection: RuleSelection, inputs: Inputs, units: HuntUnit[], threads: number, workers: Worker[], iocs: IocMatcher | undefined,
): Promise<number> {
  const ruleSet = loadRuleSet(opts.rules, pipeline, { onLateProblem: (p) => say(`${p.file}:${p.line}: rule not loaded: ${p.reason}`) });
  const errors = ruleSet.problems.filter(isRuleError);
  for (const p of opts.verbose ? ruleSet.problems : errors) say(`${p.file}:${p.line}: rule not loaded: ${p.reason}`);
  const { rules, leftOut } = selectRules(ruleSet.rules, selection);
  say(`${ruleSet.rules.length} rules and ${ruleSet.correlations.length} correlations loaded, ${ruleSet.problems.length - errors.length} set aside, ${errors.length} in error${leftOut ? `; ${rules.length} selected` : ''}`);
  if (ruleSet.rules.length === 0) {
    say('no rule could be loaded; nothing to hunt with');
    return ExitCode.Usage;
  }

  const stream = opts.output ? createWriteStream(opts.output) : process.stdout;
  const out = new StreamOutput(stream);
  const stats: HuntStats = { files: 0, events: 0, detections: 0, unreadable: [] };
  const time = timeFormatter(opts.timezone);
  const summary = new HuntSummary();
  const rows: { timestamp: string; row: string[] }[] = [];
  let worst = -1;
  if (opts.format === 'csv' && !run.quiet) await out.write(CSV_HEADER.join(',') + '\n');
  const pacer = new GarbagePacer();
  const sorter = opts.sort === 'time' && opts.format !== 'table' ? new TimelineSorter(undefined, (chars) => pacer.add(chars)) : undefined;
  const line = (d: Detection) => (opts.format === 'jsonl' ? detectionJson(d) : opts.format === 'timesketch' ? detectionTimesketch(d) : detectionCsv(d));
  // Attribution and the report writers are loaded only for a hunt that asks for them.
  const attribution = opts.attribute ? (await import('./attribute.js')).startAttribution(opts) : undefined;
  const reportFile = opts.report ? join(opts.report, 'detections.jsonl') : undefined;
  if (opts.report) mkdirSync(opts.report, { recursive: true });
  const reportOut = reportFile ? new StreamOutput(createWriteStream(reportFile)) : undefined;
  const emit = async (d: Detection) => {
    attribution?.add(d);
    await reportOut?.write(detectionJson(d) + '\n');
    worst = Math.max(worst, levelRank(d.rule.rule.level));
    summary.add(d);
    run.observe?.(d);
    if (run.quiet) return;
    if (opts.format === 'table') rows.push({ timestamp: d.timestamp, row: detectionRow(d, time) });
    else if (sorter) sorter.add(d.timestamp, line(d));
    else await out.write(line(d) + '\n');
  };
  let index: RuleIndex | undefined = new RuleIndex(rules, undefined, process.env.SPOOR_NO_CACHE ? undefined : new AutomatonCache());
  // Workers wait for this: they share its automaton rather than build their own.
  for (const w of workers) w.postMessage({ automaton: index.automatonTables() });
  const correlator = ruleSet.correlations.length ? new Correlator(ruleSet.correlations, PLACE_FIELDS) : undefined;
  const window: TimeWindow | undefined = opts.from !== undefined || opts.to !== undefined ? { from: opts.from, to: opts.to } : undefined;
  // Findings of the command's own (files, YARA, exposure) meet the same level and time window as detections.
  for (const d of (await run.findings?.(iocs)) ?? []) {
    if (opts.level && levelRank(d.rule.rule.level) < levelRank(opts.level)) continue;
    if (window && !within(window, d.timestamp)) continue;
    stats.detections++;
    await emit(d);
  }
  if (opts.engine) {
    const since = opts.sinceLast ? { feeds: opts.ioc ?? [] } : undefined;
    const found = await huntInDatabase(opts.engine, rules, pipeline, iocs, window, since, opts.progress !== false && !opts.progressJson, say, async (d) => {
      if (window && !within(window, d.timestamp)) return;
      if (correlator && !countForCorrelations(correlator, d.rule, d.timestamp, d.event)) return;
      stats.detections++;
      await emit(d);
    });
    if (found === undefined) return ExitCode.Unreadable;
    stats.events = found;
  }
  const totalBytes = inputs.files.reduce((n, f) => n + f.size, 0);
  const progress = opts.progressJson ? HuntProgress.json(totalBytes, inputs.files.length) : opts.progress === false ? undefined : HuntProgress.start(totalBytes, inputs.files.length);
  try {
    await runOrdered({
      tasks: units,
      workers,
      runHere: (u) => huntUnit(u, index!, opts.timeField, iocs),
      window: threads * 16,
      waitReady: true,
      message: { expectedRules: rules.length },
      onResult: async (unit: HuntUnit, found: UnitHunt) => {
        pacer.add(unitSize(unit));
        for (const m of found.diagnostics) progress ? progress.log(`spoor ${run.command}: ${m}`) : say(m);
        for (const d of detectionsOf(unit, found, rules, stats, correlator, window)) await emit(d);
        progress?.update(unit, stats);
      },
    });
  } finally {
    progress?.stop(stats);
  }
  // The index (its automaton alone is 8 MB) is done with: let it go before output spilled to disk is
  // merged. A hunt whose output stayed in memory ends sooner without the collection (~100 ms).
  index = undefined;
  if (sorter && sorter.spilled > 0) collectGarbage();
  for (const c of correlator?.finish() ?? []) {
    stats.detections++;
    await emit(correlationDetection(c));
  }
  if (correlator?.eventsNotKept) say(`correlations: ${correlator.eventsNotKept} hits past the first ${MAX_HELD_EVENTS} were counted but their events not kept: detections list only the events kept`);
  if (sorter) for await (const l of sorter.sorted()) await out.write(l + '\n');
  if (opts.sort === 'time') rows.sort((a, b) => timeOrder(a.timestamp, b.timestamp));
  if (opts.format === 'table') await out.write(rows.length ? formatTable(rows.map((r) => r.row), [`time (${opts.timezone ?? 'UTC'})`, 'level', 'rule', 'computer', 'event'], 60, colourWanted(stream) ? 1 : undefined) : '');
  if (opts.output) await new Promise<void>((resolve) => (stream as ReturnType<typeof createWriteStream>).end(resolve));
  const facts = { files: stats.files, events: stats.events, detections: stats.detections, rules: rules.length, setAside: ruleSet.problems.length, leftOut };
  for (const line of [...summary.lines(facts, time), ...(run.summary?.() ?? [])]) say(line);
  await run.after?.(units);
  if (attribution) process.stderr.write(`\n${attribution.report()}`);
  if (reportOut && reportFile && opts.report) {
    await reportOut.end();
    const { makeReport } = await import('./report.js');
    const made = await makeReport(reportFile, opts.report, { ...opts, format: opts.reportFormat ?? ['html', 'stix', 'navigator'], title: opts.title ?? `spoor ${run.command}` }, say);
    if (made !== ExitCode.Ok) return made;
  }
  const unreadable = stats.unreadable.length + inputs.errors.length;
  if (opts.failOn && worst >= levelRank(opts.failOn)) return ExitCode.Unreadable;
  return unreadable > 0 ? ExitCode.Unreadable : ExitCode.Ok;
}

/** Earlier events first; events without a readable time last. */
function timeOrder(a: string, b: string): number {
  const x = Date.parse(a);
  const y = Date.parse(b);
  return (Number.isNaN(x) ? Infinity : x) - (Number.isNaN(y) ? Infinity : y) || 0;
}

function colourWanted(stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WriteStream).isTTY === true && !process.env.NO_COLOR;
}

/**
 * The rules run as SQL in ClickHouse; each detection goes to `emit` as the in-process engine's would.
 * Returns the number of events in the table, or undefined (said why) when the database cannot be used.
 */
async function huntInDatabase(url: string, rules: CompiledRule[], pipeline: Pipeline, iocs: IocMatcher | undefined, window: TimeWindow | undefined, since: { feeds: string[] } | undefined, showProgress: boolean, say: (m: string) => void, emit: (d: Detection) => Promise<void>): Promise<number | undefined> {
  // ClickHouse's client and the SQL conversion are loaded only for --engine.
  const [{ connect, parseClickHouseUrl }, { convertRules, huntInClickHouse, iocHitsInClickHouse }, { TABLE }, { NewFiles }, { checkEventsTable }] = await Promise.all([import('../../sql/client.js'), import('../../sql/hunt.js'), import('../../sql/schema.js'), import('../../sql/since-last.js'), import('../../sql/layout.js')]);
  let conn;
  try {
    conn = await connect(parseClickHouseUrl(url));
  } catch (e) {
    say(`--engine ${url}: ${(e as Error).message}`);
    return undefined;
  }
  try {
    await checkEventsTable(conn.client);
    const { converted, notConverted } = convertRules(rules, pipeline);
    for (const n of notConverted) say(`${n.rule.rule.file}: ${n.rule.rule.title}: not run in ClickHouse: ${n.reason}`);
    say(`ClickHouse ${conn.version}: ${converted.length} rules as SQL, ${notConverted.length} not convertible`);
    // --since-last: the files no hunt with these rules and feeds has covered, listed now (files ingested meanwhile wait for the next).
    const fresh = since ? await NewFiles.list(conn.client, converted, since.feeds) : undefined;
    if (fresh) say(fresh.files.length ? `--since-last: ${fresh.files.length} files ingested since the last hunt with these rules and feeds` : '--since-last: nothing ingested since the last hunt with these rules and feeds');
    try {
      if (fresh && !fresh.files.length) return 0;
      const only = fresh ? await fresh.table() : undefined;
      const events = Number(((await (await conn.client.query({ query: `SELECT count() AS n FROM ${TABLE}${only ? ` WHERE ${only.where}` : ''}`, format: 'JSONEachRow' })).json()) as { n: string }[])[0]?.n ?? 0);
      const progress = showProgress ? StepProgress.start('hunting in ClickHouse', converted.length, 'rules') : undefined;
      try {
        // The window narrows what the queries read; emit still tests each detection against it exactly.
        for await (const d of huntInClickHouse(conn.client, converted, (done) => progress?.update(done), window, only?.name)) await emit(d);
      } finally {
        progress?.stop();
      }
      if (iocs?.size) {
        if (!iocs.lineLiterals()) say('the indicators include IPv6 addresses or ranges wider than /8: every row is read from ClickHouse to match them');
        for await (const d of iocHitsInClickHouse(conn.client, iocs, window, only?.name)) await emit(d);
      }
      // Only a hunt that ran to its end marks its files hunted.
      await fresh?.markHunted();
      return events;
    } finally {
      await fresh?.drop();
    }
  } catch (e) {
    say(`--engine ${url}: ${(e as Error).message}`);
    return undefined;
  } finally {
    await conn.client.close();
  }
}
