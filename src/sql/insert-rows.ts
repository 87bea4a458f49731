import type { ClickHouseClient } from '@clickhouse/client';
import { type HuntUnit, type TimedEvent, type UnitHunt, unitEvents } from '../hunt/hunt.js';
import { RowBinaryInsert } from './insert.js';
import { RowBinaryWriter } from './row-binary.js';
import { TABLE, writeEventRow } from './schema.js';

/** A unit of a file to insert: which, how its rows name the file, and the file's content hash. */
export interface UnitToInsert {
  unit: HuntUnit;
  label: string;
  sha: string;
}

/** What an insert of units did: events by file (label), and what the readers said. */
export interface InsertedRows {
  events: Record<string, number>;
  diagnostics: string[];
}

// On a Distributed table, an insert returns once the shards hold the rows (not when queued): a hunt right after ingest sees them all.
const SETTINGS = { insert_distributed_sync: 1 };

/**
 * The row number of a unit's n-th event: the unit's part in the high 32 bits, so that units inserted
 * apart (on other threads) number a file's events in its order without knowing each other's counts.
 */
const seqOf = (part: number, n: number) => part * 0x1_0000_0000 + n;

/**
 * Reads units with Spoor's readers and inserts their events as one INSERT, its rows (RowBinary) sent
 * while they are made: the server stores them while the next are read, memory holds a few chunks.
 */
export async function insertRows(client: ClickHouseClient, units: readonly UnitToInsert[], onUnit?: (unit: HuntUnit) => void): Promise<InsertedRows> {
  const rows = new RowBinaryWriter();
  const insert = new RowBinaryInsert(client, TABLE, SETTINGS);
  const done: InsertedRows = { events: {}, diagnostics: [] };
  try {
    for (const { unit, label, sha } of units) {
      const result: UnitHunt = { matches: [], events: 0, readable: true, diagnostics: [] };
      let n = 0;
      // A row per event; the loop waits only when a chunk is full (no promise per event).
      const add = (e: TimedEvent) => {
        writeEventRow(rows, e.view, e.timestamp, label, sha, seqOf(unit.part, n++));
        return rows.hasFullChunks;
      };
      const events = unitEvents(unit, result);
      if (Symbol.iterator in events) {
        for (const e of events) if (add(e)) await insert.write(rows.take());
      } else for await (const e of events) if (add(e)) await insert.write(rows.take());
      done.events[label] = (done.events[label] ?? 0) + n;
      done.diagnostics.push(...result.diagnostics);
      onUnit?.(unit);
    }
    await insert.write(rows.take(true));
    await insert.end();
  } catch (e) {
    insert.abort();
    throw e;
  }
  return done;
}
