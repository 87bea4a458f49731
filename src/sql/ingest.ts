import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { type HuntUnit, type TimedEvent, type UnitHunt, unitEvents } from '../hunt/hunt.js';
import { INGESTED, TABLE, createTables, writeEventRow } from './schema.js';
import { RowBinaryWriter } from './row-binary.js';
import { RowBinaryInsert } from './insert.js';
import { sqlString } from './clickhouse.js';

export interface IngestReport {
  files: number;
  skipped: number;
  events: number;
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

// On a Distributed table, an insert returns once the shards hold the rows (not when queued): a hunt right after ingest sees them all.
const settings = { insert_distributed_sync: 1 };

/** Bytes of rows after which an insert ends at the next file's start. */
const INSERT_BYTES = 512 << 20;

/** How long a delete may take before ingest gives up on it (a mutation can be stuck on the server). */
const DELETE_WAIT_MS = 10 * 60_000;

/**
 * Deletes rows and waits until they are gone. A delete is a mutation that runs in the background;
 * `mutations_sync` waits for it on current servers but is no setting on 18.16 (the server refuses
 * the query), so the wait is done here, on system.mutations, which both have.
 */
async function deleteRows(client: ClickHouseClient, table: string, where: string): Promise<void> {
  await client.command({ query: `ALTER TABLE ${table} DELETE WHERE ${where}` });
  const pending = `SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = ${sqlString(table)} AND is_done = 0`;
  const deadline = Date.now() + DELETE_WAIT_MS;
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    const [row] = (await (await client.query({ query: pending, format: 'JSONEachRow' })).json()) as { n: string }[];
    if (Number(row?.n ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error(`${table}: a delete (${where}) has not finished after ${DELETE_WAIT_MS / 60_000} minutes; see system.mutations on the server`);
    await new Promise((r) => setTimeout(r, wait));
  }
}

/**
 * Reads evidence with Spoor's readers and inserts its events, in batches. A file is known by the
 * SHA-256 of its content: one ingested before is skipped, so ingesting a folder twice inserts
 * nothing twice; rows of a file whose ingest was cut short are deleted before it is read again.
 */
export async function ingest(client: ClickHouseClient, units: readonly HuntUnit[], say: (m: string) => void, onUnit?: (unit: HuntUnit) => void): Promise<IngestReport> {
  for (const sql of createTables()) await client.command({ query: sql });
  const column = async (query: string) => new Set(((await (await client.query({ query, format: 'JSONEachRow' })).json()) as { s: string }[]).map((r) => r.s));
  // Each content ingested, with the paths it was given under and its events.
  const done = new Map<string, { files: Set<string>; events: number }>();
  for (const r of (await (await client.query({ query: `SELECT source_sha256 AS s, source_file AS f, events AS n FROM ${INGESTED}`, format: 'JSONEachRow' })).json()) as { s: string; f: string; n: string }[]) {
    const known = done.get(r.s) ?? { files: new Set<string>(), events: Number(r.n) };
    done.set(r.s, known);
    known.files.add(r.f);
  }
  // Files whose rows are in but whose ingest never finished (a run cut short).
  // GLOBAL: on a cluster's Distributed table the list is made here and sent to the shards, which need not hold spoor_ingested.
  const partial = await column(`SELECT source_sha256 AS s FROM ${TABLE} WHERE source_sha256 GLOBAL NOT IN (SELECT source_sha256 FROM ${INGESTED}) GROUP BY source_sha256`);
  const report: IngestReport = { files: 0, skipped: 0, events: 0 };
  const rows = new RowBinaryWriter();
  // Rows go in one insert sent while files are read, several files to an insert (each insert makes parts,
  // which the server must merge); a file is marked ingested once the insert holding its rows has ended.
  let insert: RowBinaryInsert | undefined;
  let markers: Marker[] = [];
  const endInsert = async () => {
    if (insert) {
      const last = insert;
      insert = undefined;
      await last.write(rows.take(true));
      await last.end();
    }
    if (markers.length) await client.insert({ table: INGESTED, values: markers, format: 'JSONEachRow' });
    markers = [];
  };
  let current: { file: string; sha: string; skip: boolean; seq: number } | undefined;
  const mark = (sha: string, file: string, events: number) => {
    const known = done.get(sha) ?? { files: new Set<string>(), events };
    done.set(sha, known);
    known.files.add(file);
    markers.push({ source_sha256: sha, source_file: file, events, ingested: new Date().toISOString().slice(0, 19).replace('T', ' ') });
  };
  const finishFile = async () => {
    if (!current || current.skip) return;
    report.files++;
    report.events += current.seq;
    mark(current.sha, current.file, current.seq);
    if ((insert?.sent ?? 0) >= INSERT_BYTES) await endInsert();
  };
  for (const unit of units) {
    const label = unit.name ?? unit.file;
    if (current?.file !== label) {
      await finishFile();
      const sha = await fileSha256(unit.file);
      const known = done.get(sha);
      const skip = known !== undefined;
      if (known) {
        report.skipped++;
        if (known.files.has(label)) say(`${label}: ingested before (same content); skipped`);
        else {
          // Its rows are stored once, under the first path; hunts report them under this one too.
          say(`${label}: same content as ${[...known.files][0]}, ingested before; recorded as a copy of it`);
          mark(sha, label, known.events);
        }
      } else if (partial.has(sha)) {
        say(`${label}: removing the rows of an ingest cut short`);
        await deleteRows(client, TABLE, `source_sha256 = ${sqlString(sha)}`);
        partial.delete(sha);
      }
      current = { file: label, sha, skip, seq: 0 };
    }
    if (current.skip) {
      onUnit?.(unit);
      continue;
    }
    const result: UnitHunt = { matches: [], events: 0, readable: true, diagnostics: [] };
    const events = unitEvents(unit, result);
    const file = current;
    const into = (insert ??= new RowBinaryInsert(client, TABLE, settings));
    // A row per event; the loop waits only when a chunk is full (no promise per event).
    const add = (e: TimedEvent) => {
      writeEventRow(rows, e.view, e.timestamp, label, file.sha, file.seq++);
      return rows.hasFullChunks;
    };
    try {
      if (Symbol.iterator in events) {
        for (const e of events) if (add(e)) await into.write(rows.take());
      } else for await (const e of events) if (add(e)) await into.write(rows.take());
    } catch (e) {
      into.abort();
      throw e;
    }
    for (const d of result.diagnostics) say(d);
    onUnit?.(unit);
  }
  await finishFile();
  await endInsert();
  return report;
}
