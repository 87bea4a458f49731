import Database from 'better-sqlite3';
import type { HuntRecord } from '../report/hunt-output.js';
import { canonicalHosts } from '../report/hosts.js';
import { SEARCH_TABLE, SearchError, matchQuery, parseSearch, searchTexts } from './search.js';

/**
 * Cases, their files and their detections, in one SQLite database under SPOOR_HOME. WAL journaling
 * and a transaction around every change, so that a server killed at any moment restarts with every
 * committed case intact.
 */
export type CaseKind = 'hunt' | 'exchange';
export type CaseStatus = 'new' | 'running' | 'done' | 'failed' | 'interrupted';

export interface CaseRow {
  id: number;
  name: string;
  kind: CaseKind;
  created: string;
  evidencePath: string | null;
  status: CaseStatus;
  message: string | null;
  progress: unknown;
  detections: number;
  finished: string | null;
}

export interface FileRow {
  name: string;
  size: number;
  added: string;
}

export interface DetectionQuery {
  level?: string;
  /** What the analyst typed: words, "phrases", field:value (see search.ts). */
  q?: string;
  /** Only detections an analyst gave this label. */
  label?: string;
  /** Times as the detections give them (ISO 8601): from and to, both included. */
  from?: string;
  to?: string;
  host?: string;
  offset?: number;
  limit?: number;
  /** Order: by time (the default), level (most severe first), rule or host, then time; `desc` reverses it. */
  sort?: string;
  desc?: boolean;
}

/** Orders a list can be sorted in, each an index's columns. */
const ORDERS: Record<string, string[]> = { time: ['time', 'seq'], level: ['level_rank', 'time', 'seq'], rule: ['rule', 'time', 'seq'], host: ['host', 'time', 'seq'] };

const LEVEL_RANK: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3, informational: 4 };
const rankOf = (level: string | null) => LEVEL_RANK[level ?? ''] ?? 5;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  created TEXT NOT NULL,
  evidence_path TEXT,
  status TEXT NOT NULL DEFAULT 'new',
  message TEXT,
  progress TEXT,
  detections INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0,
  finished TEXT
);
CREATE TABLE IF NOT EXISTS files (
  case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  added TEXT NOT NULL,
  PRIMARY KEY (case_id, name)
);
CREATE TABLE IF NOT EXISTS detections (
  case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
  generation INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  time TEXT NOT NULL,
  level TEXT NOT NULL,
  level_rank INTEGER NOT NULL,
  rule TEXT NOT NULL,
  host TEXT NOT NULL,
  search TEXT NOT NULL, -- what the detection is (detectionKey): its notes' key; empty in stores made before notes
  record TEXT NOT NULL,
  PRIMARY KEY (case_id, generation, seq)
);
-- Holds the sort key whole: a page far down the list is found in the index, not by reading every row before it.
CREATE INDEX IF NOT EXISTS detections_in_order ON detections(case_id, generation, time, seq);
DROP INDEX IF EXISTS detections_by_time; -- the one above serves for it
-- The other orders an analyst sorts by, each held whole by an index for the same reason.
CREATE INDEX IF NOT EXISTS detections_by_level ON detections(case_id, generation, level_rank, time, seq);
CREATE INDEX IF NOT EXISTS detections_by_rule ON detections(case_id, generation, rule, time, seq);
CREATE INDEX IF NOT EXISTS detections_by_host ON detections(case_id, generation, host, time, seq);
-- Detections by host, counted once per import (a case's page asks for them on every visit).
CREATE TABLE IF NOT EXISTS case_hosts (
  case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
  generation INTEGER NOT NULL,
  host TEXT NOT NULL,
  canonical TEXT NOT NULL, -- the machine's one name (EXCH01 and EXCH01.corp.example are one: report/hosts.ts)
  n INTEGER NOT NULL,
  PRIMARY KEY (case_id, generation, host)
);
-- The analyst's note and labels on a detection, kept by what the detection is (its rule, file,
-- record and time), so that they stay with it when the case is hunted again.
CREATE TABLE IF NOT EXISTS detection_notes (
  case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  note TEXT NOT NULL,
  labels TEXT NOT NULL,
  updated TEXT NOT NULL,
  PRIMARY KEY (case_id, key)
);
${SEARCH_TABLE};
`;

export class CaseStore {
  private readonly db: Database.Database;

  /** `recover`: the server's own connection, made at start, which marks hunts that were running when it stopped. */
  constructor(file: string, recover = true) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    if (!recover) return;
    const indexed = this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'detection_search'").get() !== undefined;
    this.db.exec(SCHEMA);
    // A store made before the search index: its current detections are indexed once.
    if (!indexed) this.indexAll();
    // A hunt cannot outlive the server that ran it: say so rather than show it running forever.
    this.db.prepare("UPDATE cases SET status = 'interrupted', message = 'the server stopped during the hunt; run it again' WHERE status = 'running'").run();
  }

  close(): void {
    this.db.close();
  }

  createCase(name: string, kind: CaseKind, evidencePath: string | null): CaseRow {
    const info = this.db.prepare('INSERT INTO cases (name, kind, created, evidence_path) VALUES (?, ?, ?, ?)').run(name, kind, new Date().toISOString(), evidencePath);
    return this.getCase(Number(info.lastInsertRowid))!;
  }

  listCases(): CaseRow[] {
    return (this.db.prepare('SELECT * FROM cases ORDER BY id DESC').all() as Record<string, unknown>[]).map(toCase);
  }

  getCase(id: number): CaseRow | undefined {
    const row = this.db.prepare('SELECT * FROM cases WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row && toCase(row);
  }

  setStatus(id: number, status: CaseStatus, message: string | null = null): void {
    this.db.prepare(`UPDATE cases SET status = ?, message = ?${status === 'done' || status === 'failed' ? ', finished = ?' : ''} WHERE id = ?`).run(...(status === 'done' || status === 'failed' ? [status, message, new Date().toISOString(), id] : [status, message, id]));
  }

  setProgress(id: number, progress: unknown): void {
    this.db.prepare('UPDATE cases SET progress = ? WHERE id = ?').run(JSON.stringify(progress), id);
  }

  addFile(id: number, name: string, size: number): void {
    this.db.prepare('INSERT OR REPLACE INTO files (case_id, name, size, added) VALUES (?, ?, ?, ?)').run(id, name, size, new Date().toISOString());
  }

  files(id: number): FileRow[] {
    return this.db.prepare('SELECT name, size, added FROM files WHERE case_id = ? ORDER BY name').all(id) as FileRow[];
  }

  /**
   * Replaces a case's detections: the new ones are written in batches as a new generation, then one
   * transaction makes it current and drops the old. Readers see the old set or the new, never half,
   * and memory holds one batch at a time.
   */
  async replaceDetections(id: number, records: AsyncIterable<HuntRecord>, batch = 2000): Promise<number> {
    const generation = ((this.db.prepare('SELECT generation FROM cases WHERE id = ?').get(id) as { generation: number } | undefined)?.generation ?? 0) + 1;
    const insert = this.db.prepare('INSERT INTO detections (case_id, generation, seq, time, level, level_rank, rule, host, search, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const index = this.db.prepare('INSERT INTO detection_search (rowid, text, fields) VALUES (?, ?, ?)');
    const write = this.db.transaction((rows: HuntRecord[], first: number) => {
      rows.forEach((d, i) => {
        const { lastInsertRowid } = insert.run(id, generation, first + i, d.timestamp, d.rule.level ?? 'unknown', rankOf(d.rule.level), d.rule.title, d.computer, detectionKey(d), JSON.stringify(d));
        const t = searchTexts(d);
        index.run(lastInsertRowid, t.text, t.fields);
      });
    });
    // Leftovers of a generation that never became current (a server killed mid-import).
    this.dropGenerations(id, 'generation >= ?', generation);
    let rows: HuntRecord[] = [];
    let seq = 0;
    const hosts = new Map<string, number>();
    for await (const d of records) {
      rows.push(d);
      hosts.set(d.computer, (hosts.get(d.computer) ?? 0) + 1);
      if (rows.length >= batch) {
        write(rows, seq);
        seq += rows.length;
        rows = [];
      }
    }
    write(rows, seq);
    seq += rows.length;
    this.db.transaction(() => {
      const host = this.db.prepare('INSERT INTO case_hosts (case_id, generation, host, canonical, n) VALUES (?, ?, ?, ?, ?)');
      const canonical = canonicalHosts(hosts);
      for (const [name, n] of hosts) host.run(id, generation, name, canonical.get(name)!, n);
      this.db.prepare('UPDATE cases SET generation = ?, detections = ? WHERE id = ?').run(generation, seq, id);
      this.dropGenerations(id, 'generation <> ?', generation);
    })();
    return seq;
  }

  /** Deletes a case's detections of the generations a condition names, and their index entries. */
  private dropGenerations(id: number, condition: string, generation: number): void {
    this.db.prepare(`DELETE FROM detection_search WHERE rowid IN (SELECT rowid FROM detections WHERE case_id = ? AND ${condition})`).run(id, generation);
    this.db.prepare(`DELETE FROM detections WHERE case_id = ? AND ${condition}`).run(id, generation);
    this.db.prepare(`DELETE FROM case_hosts WHERE case_id = ? AND ${condition}`).run(id, generation);
  }

  /** Indexes every current detection (a store made before the index). */
  private indexAll(): void {
    const index = this.db.prepare('INSERT INTO detection_search (rowid, text, fields) VALUES (?, ?, ?)');
    // A batch at a time: the connection cannot write while a query of it is still being read.
    const next = this.db.prepare('SELECT d.rowid AS id, d.record FROM detections d JOIN cases c ON c.id = d.case_id AND c.generation = d.generation WHERE d.rowid > ? ORDER BY d.rowid LIMIT 2000');
    this.db.transaction(() => {
      for (let after = 0, rows: { id: number; record: string }[]; (rows = next.all(after) as typeof rows).length; after = rows[rows.length - 1]!.id) {
        for (const r of rows) {
          let d: HuntRecord;
          try {
            d = JSON.parse(r.record) as HuntRecord;
          } catch {
            continue; // a damaged row is served as it is, unsearchable, rather than keep the server from starting
          }
          const t = searchTexts(d);
          index.run(r.id, t.text, t.fields);
        }
      }
    })();
  }

  detections(id: number, query: DetectionQuery): { total: number; rows: unknown[] } {
    const { sql, args } = this.selection(id, query);
    const total = (this.db.prepare(`SELECT count(*) AS n FROM detections WHERE ${sql}`).get(...args) as { n: number }).n;
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    const offset = Math.max(query.offset ?? 0, 0);
    const order = orderBy(query);
    // The page's rows are chosen in the index of their order, then read: reading every row before a far page took a second at 250,000.
    const page = this.db.prepare(`SELECT record, search AS key, n.note, n.labels FROM detections LEFT JOIN detection_notes n ON n.case_id = detections.case_id AND n.key = detections.search WHERE detections.rowid IN (SELECT rowid FROM detections WHERE ${sql} ORDER BY ${order} LIMIT ? OFFSET ?) ORDER BY ${order}`);
    const rows = (page.all(...args, limit, offset) as { record: string; key: string; note: string | null; labels: string | null }[]).map((r) => ({ ...(JSON.parse(r.record) as object), key: r.key, note: r.note ?? '', labels: r.labels ? (JSON.parse(r.labels) as string[]) : [] }));
    return { total, rows };
  }

  /** Whether the case's current detections hold one of this key. */
  hasDetection(id: number, key: string): boolean {
    return this.db.prepare('SELECT 1 FROM detections WHERE case_id = ? AND generation = (SELECT generation FROM cases WHERE id = ?) AND search = ? LIMIT 1').get(id, id, key) !== undefined;
  }

  /** Sets the analyst's note and labels on a detection of the case (both empty: removed). */
  annotate(id: number, key: string, note: string, labels: readonly string[]): void {
    if (!note && !labels.length) this.db.prepare('DELETE FROM detection_notes WHERE case_id = ? AND key = ?').run(id, key);
    else this.db.prepare('INSERT OR REPLACE INTO detection_notes (case_id, key, note, labels, updated) VALUES (?, ?, ?, ?, ?)').run(id, key, note, JSON.stringify(labels), new Date().toISOString());
  }

  /** The labels analysts gave the case's detections, with how many carry each. */
  labels(id: number): { label: string; n: number }[] {
    return this.db.prepare('SELECT j.value AS label, count(*) AS n FROM detection_notes, json_each(detection_notes.labels) j WHERE case_id = ? GROUP BY j.value ORDER BY n DESC, label').all(id) as { label: string; n: number }[];
  }

  /** Every detection a query selects, in its order, a batch at a time (an export of a filtered view). */
  *allDetections(id: number, query: DetectionQuery): Generator<string> {
    const { sql, args } = this.selection(id, query);
    const order = orderBy(query);
    const page = this.db.prepare(`SELECT record FROM detections WHERE ${sql} ORDER BY ${order} LIMIT ? OFFSET ?`);
    // Pages, not one statement read to its end: the connection is the server's, and other requests use it between pages.
    for (let offset = 0; ; offset += 2000) {
      const rows = page.all(...args, 2000, offset) as { record: string }[];
      for (const r of rows) yield r.record;
      if (rows.length < 2000) return;
    }
  }

  private selection(id: number, query: DetectionQuery): { sql: string; args: unknown[] } {
    const where = ['case_id = ?', 'generation = (SELECT generation FROM cases WHERE id = ?)'];
    const args: unknown[] = [id, id];
    if (query.level && query.level in LEVEL_RANK) {
      where.push('level_rank <= ?');
      args.push(LEVEL_RANK[query.level]);
    }
    if (query.host) {
      // A machine, by any of its names: every name it was logged under.
      const names = 'FROM case_hosts WHERE case_id = ? AND generation = (SELECT generation FROM cases WHERE id = ?)';
      where.push(`(host = ? OR host IN (SELECT host ${names} AND canonical = coalesce((SELECT canonical ${names} AND host = ?), ?)))`);
      args.push(query.host, id, id, id, id, query.host, query.host);
    }
    const terms = query.q ? parseSearch(query.q) : [];
    if (terms.length) {
      where.push('rowid IN (SELECT rowid FROM detection_search WHERE detection_search MATCH ?)');
      args.push(matchQuery(terms));
    }
    if (query.label) {
      where.push('search IN (SELECT n.key FROM detection_notes n, json_each(n.labels) j WHERE n.case_id = ? AND j.value = ?)');
      args.push(id, query.label);
    }
    for (const [bound, side] of [[query.from, 'from'], [query.to, 'to']] as const) {
      if (!bound) continue;
      const t = instant(bound);
      if (t === undefined) throw new SearchError(`${side}: ${JSON.stringify(bound.slice(0, 40))} is not a time (2021-03-03T01:51:00Z, or without Z for UTC)`);
      // Times are text in many forms (fractions of 3 to 7 digits, or none): the index narrows by the
      // second as text (every form of a second shares its first 19 characters), the instant decides.
      const second = new Date(Math.floor(t / 1000) * 1000).toISOString().slice(0, 19);
      // In whole milliseconds: SQLite's seconds are a double, a boundary's own time a hair either side of it.
      const ms = "round(unixepoch(time, 'subsec') * 1000)";
      if (side === 'from') {
        where.push(`time >= ? AND ${ms} >= ?`);
        args.push(second, t);
      } else {
        where.push(`time < ? AND ${ms} <= ?`);
        args.push(`${second}\uffff`, t);
      }
    }
    return { sql: where.join(' AND '), args };
  }

  renameCase(id: number, name: string): void {
    this.db.prepare('UPDATE cases SET name = ? WHERE id = ?').run(name, id);
  }

  /** Deletes a case and everything the store holds of it (its files are the caller's to remove). */
  deleteCase(id: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM detection_search WHERE rowid IN (SELECT rowid FROM detections WHERE case_id = ?)').run(id);
      for (const table of ['detections', 'case_hosts', 'files', 'detection_notes']) this.db.prepare(`DELETE FROM ${table} WHERE case_id = ?`).run(id);
      this.db.prepare('DELETE FROM cases WHERE id = ?').run(id);
    })();
  }

  hosts(id: number): { host: string; n: number }[] {
    const generation = 'generation = (SELECT generation FROM cases WHERE id = ?)';
    const counted = this.db.prepare(`SELECT canonical AS host, sum(n) AS n FROM case_hosts WHERE case_id = ? AND ${generation} GROUP BY canonical ORDER BY n DESC, host`).all(id, id) as { host: string; n: number }[];
    if (counted.length || !this.getCase(id)?.detections) return counted;
    // Detections an earlier version imported, without their count by host.
    return this.db.prepare(`SELECT host, count(*) AS n FROM detections WHERE case_id = ? AND ${generation} GROUP BY host ORDER BY n DESC, host`).all(id, id) as { host: string; n: number }[];
  }
}

/** An instant (ms) from what an analyst types: ISO 8601, UTC unless it says otherwise. */
function instant(text: string): number | undefined {
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) || !/\d\d:\d\d/.test(text) ? text : `${text}Z`);
  return Number.isNaN(t) ? undefined : t;
}

/** What a detection is, whatever hunt found it: its rule, file, record and time. */
export function detectionKey(d: HuntRecord): string {
  return [d.rule.id ?? d.rule.title, d.file, String(d.record_id), d.line ?? '', d.timestamp].join('\n');
}

function orderBy(query: DetectionQuery): string {
  const columns = ORDERS[query.sort ?? 'time'] ?? ORDERS.time!;
  return columns.map((c) => `${c}${query.desc ? ' DESC' : ''}`).join(', ');
}

function toCase(r: Record<string, unknown>): CaseRow {
  return {
    id: r.id as number,
    name: r.name as string,
    kind: r.kind as CaseKind,
    created: r.created as string,
    evidencePath: (r.evidence_path as string | null) ?? null,
    status: r.status as CaseStatus,
    message: (r.message as string | null) ?? null,
    progress: r.progress ? (JSON.parse(r.progress as string) as unknown) : null,
    detections: r.detections as number,
    finished: (r.finished as string | null) ?? null,
  };
}
