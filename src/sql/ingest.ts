import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { Worker } from 'node:worker_threads';
import { runOrdered } from '../common/ordered-pool.js';
import { type HuntUnit, unitSize } from '../hunt/hunt.js';
import type { ClickHouseTarget } from './client.js';
import { type InsertedRows, type UnitToInsert, insertRows } from './insert-rows.js';
import { INGESTED, TABLE, createTables } from './schema.js';
import { sqlString } from './clickhouse.js';
import { Claims } from './claims.js';
import { type EventsLayout, checkEventsTable, deleteEvents, eventsLayout, waitForReplicas } from './layout.js';
import { removeTwins } from './twins.js';

export interface IngestReport {
  files: number;
  skipped: number;
  events: number;
  /** Rows deleted because another row holds the same Windows event (twins.ts). */
  twins: number;
}

async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A file's line in spoor_ingested: its content, the path it was given under, its events. */
interface Marker {
  source_sha256: string;
  source_file: string;
  events: number;
  ingested: string;
}

/** How an ingest runs: progress a unit at a time, and on how many threads (each with its own connection to `target`). */
export interface IngestOptions {
  onUnit?: (unit: HuntUnit) => void;
  threads?: number;
  target?: ClickHouseTarget;
}

/** Input bytes a thread's insert takes at most: few inserts (each makes parts the server merges), tasks enough to share. */
const TASK_BYTES = 256 * 1024 * 1024;
const MIN_TASK_BYTES = 16 * 1024 * 1024;
/**
 * A worker's old generation: what it holds is a unit's reading and a few chunks of rows, and V8 lets
 * an unbounded heap drift up before collecting (two workers on 200,000 events: 296 MB peak at 128,
 * 290 at 64, 268 at 32; a CSV row may be 16 MiB, so not less).
 */
const WORKER_HEAP_MB = 64;

/**
 * Units grouped into inserts: consecutive units (of one file or of several), each group about an
 * equal share of the input for the threads, within the bounds above.
 */
function insertTasks(units: readonly UnitToInsert[], threads: number): UnitToInsert[][] {
  const total = units.reduce((n, u) => n + unitSize(u.unit), 0);
  const target = Math.min(TASK_BYTES, Math.max(MIN_TASK_BYTES, Math.ceil(total / threads)));
  const tasks: UnitToInsert[][] = [];
  let size = 0;
  for (const u of units) {
    if (!tasks.length || size >= target) {
      tasks.push([]);
      size = 0;
    }
    tasks[tasks.length - 1]!.push(u);
    size += unitSize(u.unit);
  }
  return tasks;
}

/** What the database says was ingested (each content, the paths it was given under, its events), and the markers this run adds. */
class Ingested {
  private readonly contents = new Map<string, { files: Set<string>; events: number }>();
  private readonly markers: Marker[] = [];

  private constructor(private readonly client: ClickHouseClient) {}

  static async read(client: ClickHouseClient): Promise<Ingested> {
    const ingested = new Ingested(client);
    await ingested.refresh();
    return ingested;
  }

  /** Reads what is marked now (another run may have marked files since). */
  async refresh(): Promise<void> {
    for (const r of (await (await this.client.query({ query: `SELECT source_sha256 AS s, source_file AS f, events AS n FROM ${INGESTED}`, format: 'JSONEachRow' })).json()) as { s: string; f: string; n: string }[]) this.note(r.s, r.f, Number(r.n));
  }

  get(sha: string) {
    return this.contents.get(sha);
  }

  private note(sha: string, file: string, events: number) {
    const known = this.contents.get(sha) ?? { files: new Set<string>(), events };
    this.contents.set(sha, known);
    known.files.add(file);
  }

  /** Records a file as ingested (written by the next flush). */
  mark(sha: string, file: string, events: number): void {
    this.note(sha, file, events);
    this.markers.push({ source_sha256: sha, source_file: file, events, ingested: new Date().toISOString().slice(0, 19).replace('T', ' ') });
  }

  async flush(): Promise<void> {
    if (this.markers.length) await this.client.insert({ table: INGESTED, values: this.markers.splice(0), format: 'JSONEachRow' });
  }
}

/** The units to insert, and the files whose content this run inserts under another path (marked as copies once it is in). */
interface IngestPlan {
  units: UnitToInsert[];
  copies: { sha: string; label: string }[];
}

/**
 * Every file's content hash first (its rows carry it): a file ingested before is skipped (a copy of
 * it under a new path marked at once), a copy of one this run inserts is marked at the end; the
 * contents left are claimed (another run at once may be inserting them: those are left to it), and
 * the rows of a file whose ingest was cut short are deleted before it is read again.
 */
async function planIngest(client: ClickHouseClient, layout: EventsLayout, units: readonly HuntUnit[], ingested: Ingested, claims: Claims, report: IngestReport, say: (m: string) => void, onUnit?: (unit: HuntUnit) => void): Promise<IngestPlan> {
  const files = new Map<string, { sha: string; units: HuntUnit[] }>();
  for (const unit of units) {
    const label = unit.name ?? unit.file;
    let file = files.get(label);
    if (!file) files.set(label, (file = { sha: await fileSha256(unit.file), units: [] }));
    file.units.push(unit);
  }
  // Contents to insert (new ones, and those cut short), by the first path given.
  const planned = new Map<string, string>();
  for (const [label, { sha }] of files) if (!ingested.get(sha) && !planned.has(sha)) planned.set(sha, label);
  const heldElsewhere = await claims.claim([...planned.keys()]);
  // Read after the claims: a run that has ended since this one began marked its files before it
  // said so, and one that failed left rows to clean up.
  if (planned.size) await ingested.refresh();
  // Files whose rows are in but whose ingest never finished (a run cut short, or one still running).
  // GLOBAL: on a cluster's Distributed table the list is made here and sent to the shards, which need not hold spoor_ingested.
  const partial = new Set(((await (await client.query({ query: `SELECT source_sha256 AS s FROM ${TABLE} WHERE source_sha256 GLOBAL NOT IN (SELECT source_sha256 FROM ${INGESTED}) GROUP BY source_sha256`, format: 'JSONEachRow' })).json()) as { s: string }[]).map((r) => r.s));
  const plan: IngestPlan = { units: [], copies: [] };
  for (const [label, { sha, units: parts }] of files) {
    const known = ingested.get(sha);
    const first = planned.get(sha);
    let insert = false;
    if (heldElsewhere.has(sha)) {
      // Its paths, copies too, are the other run's to mark.
      report.skipped++;
      say(`${label}: being ingested by another run (${heldElsewhere.get(sha)}) at this moment; left to it`);
    } else if (known) {
      report.skipped++;
      if (known.files.has(label)) say(`${label}: ingested before (same content); skipped`);
      else {
        // Its rows are stored once, under the first path; hunts report them under this one too.
        say(`${label}: same content as ${[...known.files][0]}, ingested before; recorded as a copy of it`);
        ingested.mark(sha, label, known.events);
      }
    } else if (first !== undefined && first !== label) {
      report.skipped++;
      say(`${label}: same content as ${first}, ingested before; recorded as a copy of it`);
      plan.copies.push({ sha, label });
    } else {
      insert = true;
      if (partial.has(sha)) {
        say(`${label}: removing the rows of an ingest cut short`);
        await deleteEvents(client, layout, `source_sha256 = ${sqlString(sha)}`);
      }
    }
    for (const unit of parts) {
      if (insert) plan.units.push({ unit, label, sha });
      else onUnit?.(unit);
    }
  }
  await ingested.flush();
  return plan;
}

/** Runs insert tasks on this thread, or on worker threads each with its own connection; `ended` is told of each in order. */
async function runTasks(client: ClickHouseClient, tasks: UnitToInsert[][], threads: number, options: IngestOptions, ended: (task: UnitToInsert[], result: InsertedRows) => Promise<void>): Promise<void> {
  if (threads <= 1) {
    for (const task of tasks) await ended(task, await insertRows(client, task, options.onUnit));
    return;
  }
  const workers = Array.from({ length: Math.min(threads, tasks.length) }, () => new Worker(new URL('./ingest-worker.js', import.meta.url), { workerData: options.target, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } }));
  try {
    await runOrdered({
      tasks,
      workers,
      window: workers.length * 2,
      onResult: async (task, result: InsertedRows) => {
        for (const u of task) options.onUnit?.(u.unit);
        await ended(task, result);
      },
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Reads evidence with Spoor's readers and inserts its events. A file is known by the SHA-256 of its
 * content: one ingested before is skipped, so ingesting a folder twice inserts nothing twice; rows
 * of a file whose ingest was cut short are deleted before it is read again. With threads (and a
 * target to connect to), units are read and inserted on worker threads, each its own inserts; a
 * file is marked ingested once every insert holding its rows has ended. On a cluster whose shards
 * have replicas, ingest returns once every replica holds the rows. Runs at once insert each file
 * once: each leaves to the others what they claimed first (claims.ts).
 */
export async function ingest(client: ClickHouseClient, units: readonly HuntUnit[], say: (m: string) => void, options: IngestOptions = {}): Promise<IngestReport> {
  await checkEventsTable(client);
  const [server] = (await (await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json()) as { v: string }[];
  for (const sql of createTables(TABLE, undefined, server?.v)) await client.command({ query: sql });
  const layout = await eventsLayout(client);
  const ingested = await Ingested.read(client);
  const report: IngestReport = { files: 0, skipped: 0, events: 0, twins: 0 };
  const claims = await Claims.open(client);
  try {
    return await insertPlanned(client, layout, await planIngest(client, layout, units, ingested, claims, report, say, options.onUnit), ingested, report, say, options);
  } finally {
    // Unsaid, the claims lapse in two minutes: an error here must not hide the one that ended the run.
    await claims.end().catch(() => undefined);
  }
}

/** Inserts what the plan holds, marks each file once it is whole, then its copies. */
async function insertPlanned(client: ClickHouseClient, layout: EventsLayout, plan: IngestPlan, ingested: Ingested, report: IngestReport, say: (m: string) => void, options: IngestOptions): Promise<IngestReport> {
  // A file is whole once every insert holding its units has ended.
  const threads = options.target ? Math.max(1, options.threads ?? 1) : 1;
  const tasks = insertTasks(plan.units, threads);
  const left = new Map<string, { sha: string; tasks: number; events: number }>();
  for (const task of tasks) for (const label of new Set(task.map((u) => u.label))) {
    const f = left.get(label) ?? { sha: task.find((u) => u.label === label)!.sha, tasks: 0, events: 0 };
    f.tasks++;
    left.set(label, f);
  }
  await runTasks(client, tasks, threads, options, async (task, result) => {
    for (const d of result.diagnostics) say(d);
    // Before the files are marked: a run cut short here leaves them to be inserted and checked again.
    report.twins += await removeTwins(client, layout, [...new Set(task.map((u) => u.sha))], say).catch((e: Error) => {
      say(`events stored twice are left so: ${e.message.split('\n')[0]!.slice(0, 400)}`);
      return 0;
    });
    for (const [label, n] of Object.entries(result.events)) left.get(label)!.events += n;
    for (const label of new Set(task.map((u) => u.label))) {
      const f = left.get(label)!;
      if (--f.tasks > 0) continue;
      report.files++;
      report.events += f.events;
      ingested.mark(f.sha, label, f.events);
    }
    await ingested.flush();
  });
  for (const c of plan.copies) {
    const original = ingested.get(c.sha);
    if (original) ingested.mark(c.sha, c.label, original.events);
  }
  await ingested.flush();
  await waitForReplicas(client, layout);
  return report;
}
