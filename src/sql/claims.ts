import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { sqlString } from './clickhouse.js';

/**
 * Which ingest run is inserting which file, so that runs at once (two analysts, a scheduled job and a
 * manual one) insert each file once: a run claims the contents it is about to insert; of the live
 * runs that claim one content, the first (by the server's clock, then by run id) inserts it and the
 * others leave it. A run is live while it beats (a row every 20 s) and until it says it has ended; one
 * killed stops beating, and two minutes later its claims lapse, so the next run may clean up what it
 * left and insert the file. ClickHouse has no locks: claims are read once the server's clock has
 * passed this run's claim by two seconds, so that a rival's claim stamped in the same second or
 * before had a second or more to be visible. Made when first needed, on the server the run talks to
 * (runs at once through one server, or one node of a cluster, see each other's claims).
 */
export const CLAIMS = 'spoor_claims';
export const CLAIMS_TABLE = `CREATE TABLE IF NOT EXISTS ${CLAIMS} (source_sha256 String, run String, claimed DateTime) ENGINE = MergeTree() ORDER BY (source_sha256, run)`;
/** The content of a run's heartbeat rows, and of the row that says it has ended. */
const BEAT = '';
const ENDED = '-';
const BEAT_MS = 20_000;
const LAPSE_SECONDS = 120;
/** Seconds the server's clock must have passed a claim's second before claims are read. */
const SETTLE_SECONDS = 2;

export class Claims {
  readonly run = randomBytes(8).toString('hex');
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly client: ClickHouseClient) {}

  static async open(client: ClickHouseClient): Promise<Claims> {
    await client.command({ query: CLAIMS_TABLE });
    return new Claims(client);
  }

  private async insert(shas: readonly string[]): Promise<void> {
    for (const part of slices(shas)) await this.client.command({ query: `INSERT INTO ${CLAIMS} SELECT arrayJoin([${part.map(sqlString).join(', ')}]) AS source_sha256, ${sqlString(this.run)} AS run, now() AS claimed` });
  }

  /**
   * Claims contents for this run and says which another live run holds first (content → that run);
   * the others are this run's to insert. Beats from now until `end`.
   */
  async claim(shas: readonly string[]): Promise<Map<string, string>> {
    const held = new Map<string, string>();
    if (shas.length === 0) return held;
    await this.insert([BEAT, ...shas]);
    this.timer ??= setInterval(() => void this.insert([BEAT]).catch(() => undefined), BEAT_MS).unref();
    await this.settle();
    const rows: { s: string; r: string; t: number | string }[] = [];
    for (const part of slices(shas)) {
      const query = `SELECT source_sha256 AS s, run AS r, toUInt32(claimed) AS t FROM ${CLAIMS} WHERE source_sha256 IN (SELECT arrayJoin([${part.map(sqlString).join(', ')}])) AND run IN (SELECT run FROM ${CLAIMS} WHERE source_sha256 = ${sqlString(BEAT)} GROUP BY run HAVING max(claimed) >= now() - ${LAPSE_SECONDS}) AND run NOT IN (SELECT run FROM ${CLAIMS} WHERE source_sha256 = ${sqlString(ENDED)})`;
      rows.push(...((await (await this.client.query({ query, format: 'JSONEachRow' })).json()) as typeof rows));
    }
    const first = new Map<string, { r: string; t: number }>();
    for (const row of rows) {
      const t = Number(row.t);
      const f = first.get(row.s);
      if (!f || t < f.t || (t === f.t && row.r < f.r)) first.set(row.s, { r: row.r, t });
    }
    for (const [sha, f] of first) if (f.r !== this.run) held.set(sha, f.r);
    return held;
  }

  /**
   * Waits until the server's clock is SETTLE_SECONDS past this run's last claim, whose time is a
   * whole second: a rival claim stamped in the same second or before was made at least a second ago, and
   * is visible unless its insert took longer than that.
   */
  private async settle(): Promise<void> {
    for (;;) {
      const [row] = (await (await this.client.query({ query: `SELECT toUInt32(now()) - toUInt32(max(claimed)) AS ago FROM ${CLAIMS} WHERE run = ${sqlString(this.run)}`, format: 'JSONEachRow' })).json()) as { ago: number | string }[];
      if (Number(row?.ago) >= SETTLE_SECONDS) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Stops beating and says the run has ended (its files are marked, or left for the next run to clean up). */
  async end(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.insert([ENDED]);
  }
}

/** Contents a statement names at most: a query is at most 256 KiB by default (`max_query_size`), a content 67 characters. */
const SLICE = 1000;

function slices(shas: readonly string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < shas.length; i += SLICE) out.push(shas.slice(i, i + SLICE));
  return out;
}
