import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { type HuntUnit, type TimedEvent, type UnitHunt, unitEvents } from '../hunt/hunt.js';
import { type EventRow, INGESTED, TABLE, createTables, eventRow } from './schema.js';
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

/**
 * Reads evidence with Spoor's readers and inserts its events, in batches. A file is known by the
 * SHA-256 of its content: one ingested before is skipped, so ingesting a folder twice inserts
 * nothing twice; rows of a file whose ingest was cut short are deleted before it is read again.
 */
export async function ingest(client: ClickHouseClient, units: readonly HuntUnit[], say: (m: string) => void, batch = 20_000, onUnit?: (unit: HuntUnit) => void): Promise<IngestReport> {
  for (const sql of createTables()) await client.command({ query: sql });
  const column = async (query: string) => new Set(((await (await client.query({ query, format: 'JSONEachRow' })).json()) as { s: string }[]).map((r) => r.s));
  const done = await column(`SELECT source_sha256 AS s FROM ${INGESTED}`);
  // Files whose rows are in but whose ingest never finished (a run cut short).
  const partial = await column(`SELECT source_sha256 AS s FROM ${TABLE} WHERE source_sha256 NOT IN (SELECT source_sha256 FROM ${INGESTED}) GROUP BY source_sha256`);
  const report: IngestReport = { files: 0, skipped: 0, events: 0 };
  let rows: EventRow[] = [];
  // A file is marked ingested only once all its rows are in: markers wait for the flush after its last row.
  let finished: { source_sha256: string; source_file: string; events: number; ingested: string }[] = [];
  const flush = async () => {
    if (rows.length) {
      await client.insert({ table: TABLE, values: rows, format: 'JSONEachRow' });
      report.events += rows.length;
      rows = [];
    }
    if (finished.length) {
      await client.insert({ table: INGESTED, values: finished, format: 'JSONEachRow' });
      finished = [];
    }
  };
  let current: { file: string; sha: string; skip: boolean; seq: number } | undefined;
  const finishFile = () => {
    if (!current || current.skip) return;
    finished.push({ source_sha256: current.sha, source_file: current.file, events: current.seq, ingested: new Date().toISOString().slice(0, 19).replace('T', ' ') });
    done.add(current.sha);
    report.files++;
  };
  for (const unit of units) {
    const label = unit.name ?? unit.file;
    if (current?.file !== label) {
      finishFile();
      const sha = await fileSha256(unit.file);
      const skip = done.has(sha);
      if (skip) {
        report.skipped++;
        say(`${label}: ingested before (same content); skipped`);
      } else if (partial.has(sha)) {
        say(`${label}: removing the rows of an ingest cut short`);
        await client.command({ query: `ALTER TABLE ${TABLE} DELETE WHERE source_sha256 = ${sqlString(sha)}`, clickhouse_settings: { mutations_sync: '1' } as Record<string, string> });
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
    // A row per event; the insert waits only when a batch is full (no promise per event).
    const file = current;
    const add = (e: TimedEvent) => rows.push(eventRow(e.view, e.timestamp, label, file.sha, file.seq++)) >= batch;
    if (Symbol.iterator in events) {
      for (const e of events) if (add(e)) await flush();
    } else for await (const e of events) if (add(e)) await flush();
    for (const d of result.diagnostics) say(d);
    onUnit?.(unit);
  }
  finishFile();
  await flush();
  return report;
}
