import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { planHuntUnits, unitSize } from '../../hunt/hunt.js';
import { loadRuleSet } from '../../sigma/ruleset.js';
import { ClickHouseUrlError, connect, parseClickHouseUrl } from '../../sql/client.js';
import { convertCorrelations } from '../../sql/correlation.js';
import { batchQuery, convertRules } from '../../sql/hunt.js';
import { ingest } from '../../sql/ingest.js';
import { clusterTables, createTables } from '../../sql/schema.js';
import { loadEvidence, openDuckDb, queryRows } from '../../sql/duckdb.js';
import { csvCell, formatTable } from '../../report/detections.js';
import { collectInputs } from '../inputs.js';
import { expandArchives } from '../archives.js';
import { ExitCode, parseThreads } from '../options.js';
import { threadsFor } from '../../common/threads.js';
import { defaultRules } from '../default-rules.js';
import { loadPipelineOrExit } from './rules.js';
import { StepProgress } from '../progress.js';

export function sqlCommand(): Command {
  return new Command('sql')
    .description('print Sigma rules as ClickHouse SQL (the queries `spoor hunt --engine clickhouse://…` runs), and the table they run on')
    .argument('[rules...]', 'Sigma rule files or directories (default: as spoor hunt)')
    .addOption(new Option('--backend <backend>', 'SQL dialect').choices(['clickhouse']).default('clickhouse'))
    .option('-p, --pipeline <file>', 'processing pipeline instead of the built-in one (repeatable: files merged in order)', (v: string, p: string[] = []) => [...p, v])
    .option('--schema', 'print the CREATE TABLE statements too')
    .option('--where', 'print each rule\'s condition alone, not the batched query')
    .option('--cluster <name>', 'print only the tables for the cluster of this name (remote_servers): events_local on each shard, a Distributed events table over them, spoor_ingested')
    .option('--no-replicated', 'with --cluster: shards of one server each, no ZooKeeper (MergeTree; run the statements on every node) instead of ON CLUSTER with ReplicatedMergeTree')
    .option('--database <name>', 'with --cluster: the database', 'spoor')
    .option('--server-version <version>', 'the ClickHouse version the tables are for (from 20.1 on, text columns get a ZSTD codec; ingest picks by the server\'s own version)', '18.16')
    .addHelpText('after', `
Each rule becomes one boolean SQL expression over the events table (see --schema), printed as the
query that finds its events (--where: the expression alone). Each correlation rule becomes one query:
the events of the rules it refers to, GROUP BY its group-by fields, every timespan-long window ending
at one of a group's events tested against its condition; a row per group that holds, at its first
window. Rules and correlations that cannot be converted are listed on stderr with the reason, and
the others are printed. --cluster prints the tables of a sharded (and replicated) cluster instead;
ingest and hunt through its Distributed table on any node. Exit status: 0, or 2 on bad usage (no
rule loaded, a bad cluster or database name).`)
    .action((paths: string[], opts: { pipeline?: string[]; schema?: boolean; where?: boolean; cluster?: string; replicated: boolean; database: string; serverVersion: string }) => {
      const say = (m: string) => process.stderr.write(`spoor sql: ${m}\n`);
      if (!/^\d+(\.\d+)*$/.test(opts.serverVersion)) {
        say(`--server-version ${opts.serverVersion}: expected a version such as 18.16 or 24.8`);
        return void (process.exitCode = ExitCode.Usage);
      }
      if (opts.cluster !== undefined) {
        try {
          process.stdout.write(clusterTables(opts.cluster, opts.database, opts.replicated, opts.serverVersion).map((q) => `${q};\n`).join('\n'));
        } catch (e) {
          say((e as Error).message);
          process.exitCode = ExitCode.Usage;
        }
        return;
      }
      const pipeline = loadPipelineOrExit(opts.pipeline, 'sql');
      if (!pipeline) return void (process.exitCode = ExitCode.Usage);
      const rules = paths.length ? paths : defaultRules().paths;
      const missing = rules.filter((p) => !existsSync(p));
      if (missing.length) {
        for (const p of missing) say(`${p}: no such file or directory`);
        return void (process.exitCode = ExitCode.Usage);
      }
      const set = loadRuleSet(rules, pipeline);
      for (const p of set.problems) say(`${p.file}:${p.line}: rule not loaded: ${p.reason}`);
      const { converted, notConverted } = convertRules(set.rules, pipeline);
      for (const n of notConverted) say(`${n.rule.rule.file}: ${n.rule.rule.title}: not convertible: ${n.reason}`);
      say(`${converted.length} rules converted, ${notConverted.length} not`);
      if (!converted.length) return void (process.exitCode = ExitCode.Usage);
      if (opts.schema) process.stdout.write(createTables(undefined, undefined, opts.serverVersion).map((s) => `${s};\n`).join('\n') + '\n');
      for (const c of converted) {
        process.stdout.write(`-- ${c.rule.rule.title} (${c.rule.rule.id ?? 'no id'})\n${opts.where ? c.sql : batchQuery([c])};\n\n`);
      }
      const correlations = convertCorrelations(set.correlations, converted);
      for (const n of correlations.notConverted) say(`${n.correlation.rule.file}: ${n.correlation.rule.title}: correlation not convertible: ${n.reason}`);
      if (set.correlations.length) say(`${correlations.converted.length} correlations converted, ${correlations.notConverted.length} not`);
      for (const c of correlations.converted) {
        process.stdout.write(`-- correlation ${c.correlation.type}: ${c.correlation.rule.title} (${c.correlation.rule.id ?? 'no id'})\n${c.sql};\n\n`);
      }
    });
}

export function ingestCommand(): Command {
  return new Command('ingest')
    .description('read evidence with Spoor\'s readers and insert its events into ClickHouse, to hunt there with spoor hunt --engine')
    .argument('<paths...>', 'evidence files or directories')
    .requiredOption('--to <url>', 'clickhouse://HOST:PORT/DATABASE (PORT: the HTTP port, 8123 by default; the database is created if need be)')
    .addHelpText('after', `
A file is known by the SHA-256 of its content: ingesting it again inserts nothing; an ingest cut
short is cleaned up when the file is ingested again. An event that names its computer, event id and
record id (a Windows event, a Microsoft 365 record) is stored once whatever files hold it (an EVTX
file and a JSON export of it): its row from an EVTX file, else from the file ingested first.
Exit status: 0, 1 when ClickHouse or an input cannot be read, 2 on bad usage.`)
    .option('--no-progress', 'no progress bar (it is shown only on a terminal)')
    .option('-t, --threads <n>', 'threads reading and inserting, each with its own connection (0: one on two cores or fewer, else one per core and 64 MB of input)', parseThreads, 0)
    .action(async (paths: string[], opts: { to: string; progress?: boolean; threads: number }) => {
      const say = (m: string) => process.stderr.write(`spoor ingest: ${m}\n`);
      let target;
      try {
        target = parseClickHouseUrl(opts.to);
      } catch (e) {
        if (!(e instanceof ClickHouseUrlError)) throw e;
        say(e.message);
        return void (process.exitCode = ExitCode.Usage);
      }
      const inputs = collectInputs(paths, () => true);
      for (const e of inputs.errors) say(e);
      const archives = expandArchives(inputs.files, say);
      const units = planHuntUnits(archives.files).filter((u) => u.kind !== 'unknown' && u.kind !== 'zip');
      let conn;
      try {
        conn = await connect(target);
      } catch (e) {
        say(`${opts.to}: ${(e as Error).message}`);
        return void (process.exitCode = ExitCode.Unreadable);
      }
      const started = Date.now();
      try {
        say(`ClickHouse ${conn.version}, database ${target.database}`);
        const progress = opts.progress === false ? undefined : StepProgress.start('ingesting', units.reduce((n, u) => n + unitSize(u), 0), 'MB', 1e6);
        let read = 0;
        let r;
        try {
          // As hunts do: one thread on two cores (a second is faster but takes the peak near 300 MB), more with more cores.
          const threads = threadsFor(opts.threads, units.reduce((n, u) => n + unitSize(u), 0), 64 * 1024 * 1024);
          r = await ingest(conn.client, units, (m) => (progress ? progress.log(`spoor ingest: ${m}`) : say(m)), { onUnit: (u) => progress?.update((read += unitSize(u))), threads, target });
        } finally {
          progress?.stop();
        }
        const s = (Date.now() - started) / 1000;
        say(`${r.files} files, ${r.events} events inserted (${Math.round(r.events / Math.max(s, 0.001))} events/s); ${r.skipped} files ingested before, skipped${r.twins ? `; ${r.twins} events were stored twice (from two files), now once` : ''}`);
        process.exitCode = inputs.errors.length ? ExitCode.Unreadable : ExitCode.Ok;
      } catch (e) {
        // The server refused a query or went away: say so, with what was done; the next ingest cleans up a file cut short.
        say(`${opts.to}: ingest stopped: ${(e as Error).message}`);
        process.exitCode = ExitCode.Unreadable;
      } finally {
        await conn.client.close();
        archives.cleanup();
      }
    });
}

/** Rows a table shows (it is laid out in memory; the other formats stream). */
const MAX_TABLE_ROWS = 10_000;

export function queryCommand(): Command {
  return new Command('query')
    .description('run ad-hoc SQL over evidence with DuckDB (embedded, no server): the events are the table `events`')
    .argument('<sql>', "the query, e.g. \"SELECT fields->>'Image' AS image, count(*) n FROM events WHERE event_id = '1' GROUP BY 1 ORDER BY n DESC\"")
    .argument('[paths...]', 'evidence files or directories (none with --db of an earlier run)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'jsonl', 'csv']).default('table'))
    .option('--db <file>', 'keep the loaded events in this DuckDB file (and query it again later without paths)')
    .addHelpText('after', `
Columns: time (TIMESTAMPTZ), timestamp, host, channel, provider, event_id, record_id, source_file,
fields (JSON: every field by name, fields->>'CommandLine'), raw (the event as JSON).
Exit status: 0, 1 when the query fails or an input cannot be read, 2 on bad usage.`)
    .action(async (sql: string, paths: string[], opts: { format: 'table' | 'jsonl' | 'csv'; db?: string }) => {
      const say = (m: string) => process.stderr.write(`spoor query: ${m}\n`);
      if (!paths.length && !opts.db) {
        say('give evidence files or folders (or --db FILE of an earlier run)');
        return void (process.exitCode = ExitCode.Usage);
      }
      let conn;
      try {
        conn = await openDuckDb(opts.db);
      } catch (e) {
        say(`${opts.db ?? 'in-memory database'}: ${(e as Error).message}`);
        return void (process.exitCode = ExitCode.Unreadable);
      }
      try {
        if (paths.length) {
          const inputs = collectInputs(paths, () => true);
          for (const e of inputs.errors) say(e);
          const archives = expandArchives(inputs.files, say);
          try {
            const n = await loadEvidence(conn, planHuntUnits(archives.files).filter((u) => u.kind !== 'unknown' && u.kind !== 'zip'), say);
            say(`${n} events loaded`);
          } finally {
            archives.cleanup();
          }
          if (inputs.errors.length) process.exitCode = ExitCode.Unreadable;
        }
        const rows: Record<string, unknown>[] = [];
        let more = 0;
        const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
        let header: string[] | undefined;
        for await (const r of queryRows(conn, sql)) {
          if (opts.format === 'jsonl') process.stdout.write(`${JSON.stringify(r)}\n`);
          else if (opts.format === 'csv') {
            if (!header) process.stdout.write(`${(header = Object.keys(r)).map(csvCell).join(',')}\n`);
            process.stdout.write(`${header.map((k) => csvCell(cell(r[k]))).join(',')}\n`);
          } else if (rows.length < MAX_TABLE_ROWS) rows.push(r);
          else more++;
        }
        if (opts.format === 'table') {
          const keys = rows.length ? Object.keys(rows[0]!) : [];
          process.stdout.write(rows.length ? formatTable(rows.map((r) => keys.map((k) => cell(r[k]))), keys, 80) : '(no rows)\n');
          if (more) say(`${more} more rows not shown (a table is laid out in memory): use -f jsonl or -f csv, or LIMIT`);
        }
      } catch (e) {
        say((e as Error).message);
        process.exitCode = ExitCode.Unreadable;
      } finally {
        conn.closeSync();
      }
    });
}
