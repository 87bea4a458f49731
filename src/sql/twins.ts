import type { ClickHouseClient } from '@clickhouse/client';
import { sqlString } from './clickhouse.js';
import { type EventsLayout, deleteEvents } from './layout.js';
import { INGESTED, KIND_KEY, TABLE } from './schema.js';

/**
 * An event's identity, where it names its computer, its kind (event id) and its record id (a Windows
 * event in any rendering, a Microsoft 365 record): what no two events of one log share (a record id
 * is unique in its channel on its computer until the log is cleared, and then the time differs) and
 * what every rendering of the event keeps. Its content is no key: SigmaHQ's JSON of its own
 * regression samples drops values' trailing blanks where the EVTX holds them (67 of 153 samples
 * differ so). Web and mail log lines have none: their record id is the line's number, the same in
 * two sites' logs of one server, and two identical lines may be two requests; they are known only by
 * their file's content and place.
 */
const IDENTITY = 'host, channel, record_id, time, provider, event_id';
const HAS_IDENTITY = "record_id != '' AND host != '' AND event_id != ''";
/**
 * The sort key's columns an event's twins share (kind, second, host): as a set (on 18.16 too, it
 * prunes by the sort key) they let the server read the parts of the table near the files' own rows
 * rather than every row's identity (0.3–0.4 s for the 303,876 events of a 404 MB EVTX file).
 */
const NEAR = `${KIND_KEY.channel}, ${KIND_KEY.eventId}, time, host`;
/** Whether a row was read from other than an EVTX file (false sorts first). */
const NOT_EVTX = "NOT endsWith(lowerUTF8(source_file), '.evtx')";

/**
 * Of the events some files' rows hold, those also stored from another file (or twice in one): each
 * is kept once, as its row read from an EVTX file if it has one (the log as Windows wrote it), then
 * from the file ingested first (by its mark in spoor_ingested; a file not yet marked, as this run's,
 * comes last), then of the least file content hash and place. So a kept row never moves to a file
 * ingested later (a hunt --since-last of that file does not report its event again), and runs at
 * once agree: each checks after its own insert and marks its files only after its check and delete,
 * so of two runs inserting twins the later check sees both rows, and the files it sees marked have
 * had theirs done. A file that repeats another's events loses them whole, in runs of rows a delete
 * names by range.
 */
function twinsOf(shas: readonly string[]): string {
  // Through `events` (on a cluster, Distributed: the set is made here and sent to the shards,
  // GLOBAL); a Windows event's rows share their host, hence their shard.
  const near = `SELECT ${NEAR} FROM ${TABLE} WHERE source_sha256 IN (${shas.map(sqlString).join(', ')}) AND ${HAS_IDENTITY}`;
  const candidates = `${HAS_IDENTITY} AND (${NEAR}) GLOBAL IN (${near})`;
  const groups = `SELECT rowNumberInAllBlocks() AS g, rows FROM (SELECT groupArray((source_sha256, seq, source_file)) AS rows FROM ${TABLE} WHERE ${candidates} GROUP BY ${IDENTITY} HAVING count() > 1)`;
  const twins = `SELECT g, tupleElement(r, 1) AS source_sha256, tupleElement(r, 2) AS seq, tupleElement(r, 3) AS source_file FROM (${groups}) ARRAY JOIN rows AS r`;
  // The join is done where the query was sent (the twins are gathered there), with that node's marks.
  const marked = `SELECT source_sha256, toUInt32(min(ingested)) AS at FROM ${INGESTED} GROUP BY source_sha256`;
  const ranked = `SELECT g, source_sha256, seq, source_file, (${NOT_EVTX}, if(at = 0, 4294967295, at), source_sha256, seq) AS rank FROM (${twins}) ANY LEFT JOIN (${marked}) USING source_sha256`;
  // Each file's rows that go, as runs of consecutive places (first and last of each; arrayDifference,
  // as a lambda reading the array by index makes 18.16 copy it for every item).
  const lost = `SELECT tupleElement(r, 1) AS sha, any(tupleElement(r, 3)) AS file, arraySort(groupArray(tupleElement(r, 2))) AS s FROM (SELECT groupArray((source_sha256, seq, source_file, rank)) AS rows, min(rank) AS kept FROM (${ranked}) GROUP BY g) ARRAY JOIN rows AS r WHERE tupleElement(r, 4) != kept GROUP BY sha`;
  return `SELECT sha, file, length(s) AS n, arrayFilter((x, d) -> d != 1, s, arrayDifference(s)) AS starts, arrayFilter((x, d) -> d != 1, s, arrayPopFront(arrayPushBack(arrayDifference(s), 0))) AS ends FROM (${lost}) ORDER BY file`;
}

/** A delete names this many runs of rows at most (its statement, and each replica's check of it, well within 18.16's 256 KiB for a query). */
const RUNS_PER_DELETE = 500;

/**
 * Deletes the rows of events some files hold that another row already holds (the same Windows event
 * from its EVTX and from a JSON export of it, or from two overlapping copies of one log), so each is
 * stored once; says how many rows of which file go before deleting them, and returns their number.
 */
export async function removeTwins(client: ClickHouseClient, layout: EventsLayout, shas: readonly string[], say: (m: string) => void): Promise<number> {
  if (!shas.length) return 0;
  const lost = (await (await client.query({ query: twinsOf(shas), format: 'JSONEachRow' })).json()) as { sha: string; file: string; n: string; starts: string[]; ends: string[] }[];
  let removed = 0;
  // Few deletes (a delete is a mutation: each rewrites parts, and each replica does it again), each
  // naming a file once with its runs of rows.
  let files: string[] = [];
  let size = 0;
  const flush = async () => {
    if (files.length) await deleteEvents(client, layout, files.join(' OR '), 'events stored twice');
    files = [];
    size = 0;
  };
  for (const f of lost) {
    say(`${f.file}: ${f.n} of its events are also stored from another file (the same computer, channel, record id and second); deleting these rows, so each is stored once`);
    removed += Number(f.n);
    for (let i = 0; i < f.starts.length; i += RUNS_PER_DELETE) {
      const runs = f.starts.slice(i, i + RUNS_PER_DELETE).map((start, j) => `seq BETWEEN ${BigInt(start)} AND ${BigInt(f.ends[i + j]!)}`);
      if (size + runs.length > RUNS_PER_DELETE) await flush();
      files.push(`(source_sha256 = ${sqlString(f.sha)} AND (${runs.join(' OR ')}))`);
      size += runs.length;
    }
  }
  await flush();
  return removed;
}
