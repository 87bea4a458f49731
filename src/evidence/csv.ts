import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import Papa from 'papaparse';
import { ColumnEvent } from './column-event.js';
import { flatSystem } from './normalize.js';
import type { ByteRange } from './text-blocks.js';

/** A record longer than this is reported and skipped (a row is an event, not a file). */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Bytes read at a time; each block handed to the parser ends at a record's end (its rows live together: small blocks let them die young). */
const BLOCK_BYTES = 256 * 1024;

/**
 * A CSV row as the Event rules see (see ColumnEvent): its columns by the header's names, and the
 * first of the usual column names for each Windows system field (or `timeField`) its System part.
 * An export has a column for every field of any event, so most of a row's cells are empty: an empty
 * cell is a field with no value (null, as an empty element of an EVTX record is: `''` and `null`
 * both match it), and the event shown for a detection leaves it out.
 */
export class CsvEvent extends ColumnEvent {
  constructor(columns: readonly string[], vals: readonly string[], private readonly timeField: string | undefined) {
    super(columns, vals);
  }

  protected override cell(i: number): string | null {
    const v = this.vals[i]!;
    return v === '' ? null : v;
  }

  protected systemElement(): Record<string, unknown> {
    return flatSystem((n) => this.data(n), this.timeField);
  }

  toRaw(): unknown {
    const data: Record<string, string> = {};
    const n = Math.min(this.vals.length, this.columns.length);
    for (let i = 0; i < n; i++) if (this.vals[i] !== '') data[this.columns[i]!] = this.vals[i]!;
    return { Event: { System: this.systemElement(), EventData: data } };
  }
}

const enum At { FieldStart, Unquoted, Quoted, QuoteInQuoted }

/**
 * Finds where CSV records end (after their line feed) in bytes fed in order: a quote opens a quoted
 * field only at the field's start, where a line feed ends no record; elsewhere a quote is text.
 */
class RecordEnds {
  private state = At.FieldStart;

  /** Calls `onEnd` with `base + offset` after each record in buf[0, n); stops early when it returns true. */
  feed(buf: Uint8Array, n: number, base: number, onEnd: (end: number) => boolean | void): void {
    let state = this.state;
    for (let i = 0; i < n; i++) {
      const b = buf[i]!;
      if (state === At.Quoted) {
        const q = buf.indexOf(0x22, i);
        if (q < 0 || q >= n) break;
        i = q;
        state = At.QuoteInQuoted;
      } else if (b === 0x0a) {
        state = At.FieldStart;
        if (onEnd(base + i + 1)) break;
      } else if (state === At.QuoteInQuoted) {
        if (b === 0x22) state = At.Quoted;
        else if (b === 0x2c) state = At.FieldStart;
        else if (b !== 0x0d) state = At.Unquoted;
      } else if (b === 0x2c) state = At.FieldStart;
      else if (state === At.FieldStart) state = b === 0x22 ? At.Quoted : At.Unquoted;
    }
    this.state = state;
  }
}

/** Calls `onEnd` with the offset after each record of a file, from its start, until it returns true. */
function scanRecordEnds(file: string, onEnd: (end: number) => boolean): void {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(BLOCK_BYTES);
  const ends = new RecordEnds();
  let stop = false;
  try {
    for (let pos = 0; !stop; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) return;
      ends.feed(buf, n, pos, (end) => (stop = onEnd(end)));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A CSV file cut into ranges of about `size` bytes, each starting at a record's start (never inside
 * a quoted field), so that threads can share a large file and no unit's matches grow with the file.
 */
export function csvRanges(file: string, fileSize: number, size: number): ByteRange[] {
  const starts = [0];
  let next = size;
  scanRecordEnds(file, (end) => {
    if (end >= next && end < fileSize) {
      starts.push(end);
      next = end + size;
    }
    return false;
  });
  return starts.map((start, i) => ({ start, end: starts[i + 1] ?? fileSize }));
}

/** A piece of a CSV file made of whole records (the last one may lack its line feed): its text and its records' ends. */
interface RecordBlock {
  start: number;
  text: string;
  /** Byte offsets (in the file) after each record of the block. */
  ends: number[];
}

/** Told of a record too long to hold: where it starts, then (once its end is found) the line feeds it took. */
interface OverlongRecords {
  found(offset: number): void;
  passed(feeds: number): void;
}

/**
 * The records of bytes [start, end) of a file in blocks of about a megabyte, each cut after a
 * record. A record longer than MAX_RECORD_BYTES is reported and skipped.
 */
function* recordBlocks(file: string, start: number, end: number, overlong: OverlongRecords): Generator<RecordBlock> {
  const fd = openSync(file, 'r');
  let buf = Buffer.allocUnsafe(BLOCK_BYTES);
  const scanner = new RecordEnds();
  let kept = 0; // bytes at buf[0, kept) not yet handed on, from file offset `from`
  let from = start;
  let skipping = false;
  let skippedFeeds = 0;
  try {
    for (let pos = start; ; ) {
      if (kept === buf.length) {
        if (buf.length >= MAX_RECORD_BYTES) {
          // No record ends within the bound: drop what is held and pass over the rest of this record.
          if (!skipping) overlong.found(from);
          skippedFeeds += countFeeds(buf, kept);
          skipping = true;
          from += kept;
          kept = 0;
        } else buf = Buffer.concat([buf.subarray(0, kept), Buffer.allocUnsafe(buf.length)]);
      }
      const n = pos < end ? readSync(fd, buf, kept, Math.min(buf.length - kept, end - pos), pos) : 0;
      if (n === 0) break;
      const ends: number[] = [];
      scanner.feed(buf.subarray(kept, kept + n), n, pos, (e) => void ends.push(e));
      pos += n;
      kept += n;
      if (skipping && ends.length) {
        // The overlong record ends here: what follows starts afresh.
        const cut = ends.shift()! - from;
        overlong.passed(skippedFeeds + countFeeds(buf, cut));
        skippedFeeds = 0;
        buf.copy(buf, 0, cut, kept);
        kept -= cut;
        from += cut;
        skipping = false;
      }
      if (skipping || !ends.length) continue;
      const cut = ends[ends.length - 1]! - from;
      yield { start: from, text: buf.toString('utf8', 0, cut), ends };
      buf.copy(buf, 0, cut, kept);
      kept -= cut;
      from += cut;
    }
    if (skipping) overlong.passed(skippedFeeds + countFeeds(buf, kept));
    else if (kept) yield { start: from, text: buf.toString('utf8', 0, kept), ends: [from + kept] };
  } finally {
    closeSync(fd);
  }
}

/** The header record: its column names (trimmed), the bytes it takes and the line break it ends with. */
interface CsvHeader {
  columns: string[];
  end: number;
  lines: number;
  newline: '\r\n' | '\n';
}

function readHeader(file: string): CsvHeader | undefined {
  let end = -1;
  scanRecordEnds(file, (e) => {
    end = e;
    return true;
  });
  if (end < 0) return undefined;
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.allocUnsafe(Math.min(end, MAX_RECORD_BYTES));
    const text = head.toString('utf8', 0, readSync(fd, head, 0, head.length, 0)).replace(/^\uFEFF/, '');
    const newline = text.endsWith('\r\n') ? '\r\n' : '\n';
    const row = Papa.parse<string[]>(text.slice(0, -newline.length), { delimiter: ',', newline }).data[0] ?? [];
    return { columns: row.map((h) => h.trim()), end, lines: (text.match(/\n/g) ?? []).length, newline };
  } finally {
    closeSync(fd);
  }
}

/** How a block's text is parsed: comma-separated, double quotes, the header's line break. */
function parseRows(text: string, newline: CsvHeader['newline']): Papa.ParseResult<string[]> {
  return Papa.parse<string[]>(text, { delimiter: ',', newline, quoteChar: '"', escapeChar: '"' });
}

/**
 * Reads events from a CSV file with a header row (a SIEM or PowerShell export), or from a range of
 * one (see csvRanges): a block of records at a time, each row a view over its values. A malformed
 * row is reported with the line it starts on (counted in the range) and skipped; so is a file
 * without a header. `counted.lines` is set to the lines the range holds.
 */
export function* readCsvEvents(file: string, onError: (line: number, message: string) => void, timeField?: string, range?: ByteRange, counted?: { lines?: number }): Generator<{ view: CsvEvent; line: number }> {
  const header = readHeader(file);
  if (!header) {
    onError(1, 'no header record (a CSV file needs a line of column names ended by a line feed); skipped');
    return;
  }
  const start = Math.max(range?.start ?? 0, header.end);
  const end = range?.end ?? fstatSize(file);
  // The first range starts with the header: its rows' lines count after the header's.
  let line = (start === header.end ? header.lines : 0) + 1;
  let startLine = line;
  const overlong: OverlongRecords = {
    found: (offset) => onError(line, `a record longer than ${MAX_RECORD_BYTES / 1024 / 1024} MiB at byte ${offset}; skipped`),
    passed: (feeds) => void (line += feeds),
  };
  for (const block of recordBlocks(file, start, end, overlong)) {
    startLine = line;
    const parsed = parseRows(block.text, header.newline);
    // A malformed quote can swallow the rows after it: such a block is parsed a record at a time.
    let rows: string[][] = parsed.data;
    // Without one: the line feeds each row takes, those inside its values and its own.
    let feeds: number[] | undefined;
    const bad = new Set<number>();
    if (parsed.errors.some((e) => e.type === 'Quotes')) {
      rows = [];
      feeds = [];
      const bytes = Buffer.from(block.text, 'utf8');
      let at = 0;
      for (const e of block.ends) {
        const text = bytes.toString('utf8', at, e - block.start);
        const one = parseRows(text, header.newline);
        if (one.errors.some((x) => x.type === 'Quotes')) bad.add(rows.length);
        rows.push(one.data[0] ?? ['']);
        feeds.push(countFeeds(text));
        at = e - block.start;
      }
    }
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      const at = line;
      if (feeds) line += feeds[r]!;
      else {
        for (const v of row) line += countFeeds(v);
        line++;
      }
      if (row.length === 1 && row[0] === '') continue; // an empty line
      if (bad.has(r)) onError(at, 'malformed quotes; row skipped');
      else yield { view: new CsvEvent(header.columns, row, timeField), line: at };
    }
    // Lines as the file has them (a row's count can differ where a malformed quote was).
    line = startLine + countFeeds(block.text);
  }
  if (counted) counted.lines = line - 1;
}

/** Line feeds in a text, or in the first `length` bytes of a buffer. */
function countFeeds(text: string | Buffer, length = text.length): number {
  let n = 0;
  if (typeof text === 'string') for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  else for (let i = text.indexOf(0x0a); i >= 0 && i < length; i = text.indexOf(0x0a, i + 1)) n++;
  return n;
}

function fstatSize(file: string): number {
  const fd = openSync(file, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}
