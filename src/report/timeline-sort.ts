import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BoundedLine, readBoundedLines } from '../evidence/text-blocks.js';

/** Bytes of line text per block the sorter writes lines into. */
const BLOCK_BYTES = 1024 * 1024;

/**
 * Sorts output lines by time without holding them all: lines collect in memory up to a bound, then
 * go to a temporary file as a sorted run; the sorted output is a merge of the runs. Lines of equal
 * time keep the order they came in. A line must not contain a newline (JSONL and CSV rows do not).
 *
 * Lines are held as UTF-8 in large blocks, not as strings: a line built by concatenation is a tree
 * of string pieces several times its length, and tens of thousands of them live long enough to fill
 * the heap's old generation; in blocks, the bound is the memory held.
 */
export class TimelineSorter {
  private blocks: Buffer[] = [];
  /**
   * Blocks of spilled lines, kept for the lines that follow: blocks dropped at each spill are freed
   * only by a later collection, and the allocator keeps the pages of those it frees, so a sort of a
   * large hunt held two or three times its bound.
   */
  private spare: Buffer[] = [];
  /** The spill's and the merge's write buffer, made once. */
  private writeBuffer: Buffer | undefined;
  private used = 0;
  /** Per pending line: its time key, and where its bytes are (block, offset, length). */
  private times: number[] = [];
  private places: number[] = [];
  private pendingBytes = 0;
  private seq = 0;
  private readonly runs: string[] = [];
  private dir: string | undefined;

  /**
   * `onMerged` hears of each line's length as runs are merged: the caller's garbage pacing (the
   * merge reads runs through buffers that live long enough to reach the old generation, which V8
   * would otherwise let grow by hundreds of megabytes before collecting it). `limitBytes`: lines
   * held before a run goes to disk. Measured on a hunt of one 404 MB EVTX file
   * (67,600 detections, 170 MB of lines, about 20 runs at this bound): 24 MB held peaked 15 MiB higher
   * at the same speed (three runs each interleaved).
   */
  constructor(private readonly limitBytes = 8 * 1024 * 1024, private readonly onMerged?: (chars: number) => void) {}

  /** Adds a line with its event time (ISO-8601; lines without a readable time sort last). */
  add(timestamp: string, line: string): void {
    const t = Date.parse(timestamp);
    const size = Buffer.byteLength(line);
    let block = this.blocks[this.blocks.length - 1];
    if (!block || this.used + size > block.length) {
      block = (size <= BLOCK_BYTES && this.spare.pop()) || Buffer.allocUnsafe(Math.max(BLOCK_BYTES, size));
      this.blocks.push(block);
      this.used = 0;
    }
    block.write(line, this.used);
    this.times.push(Number.isNaN(t) ? Infinity : t);
    this.places.push(this.blocks.length - 1, this.used, size);
    this.used += size;
    this.pendingBytes += size + 48;
    if (this.pendingBytes >= this.limitBytes) this.spill();
  }

  /** How many runs went to disk (0 when everything fitted in memory). */
  get spilled(): number {
    return this.runs.length;
  }

  private spill(): void {
    this.dir ??= mkdtempSync(join(tmpdir(), 'spoor-sort-'));
    const path = join(this.dir, `run-${this.runs.length}.txt`);
    const out = new RunWriter(path, (this.writeBuffer ??= Buffer.allocUnsafe(BLOCK_BYTES)));
    try {
      // Written a batch at a time: a buffer of the whole run would double the memory the bound allows.
      for (const { key, bytes } of this.takePending()) out.line(key, bytes);
    } finally {
      out.close();
    }
    this.runs.push(path);
  }

  /** The pending lines in order (time, then arrival), each with its run key; the pending set is emptied. */
  private *takePending(): Generator<{ key: string; bytes: Buffer }> {
    const { times, places, blocks } = this;
    const order = Array.from({ length: times.length }, (_, i) => i).sort((a, b) => times[a]! - times[b]! || a - b);
    this.blocks = [];
    this.used = 0;
    this.times = [];
    this.places = [];
    this.pendingBytes = 0;
    for (const i of order) {
      const t = times[i]!;
      // Fixed-width keys sort as strings: time in ms (shifted to stay positive), then arrival.
      const time = t === Infinity ? '~' : String(t + 1e14).padStart(16, '0');
      const at = i * 3;
      const block = blocks[places[at]!]!;
      yield { key: `${time}:${String(this.seq++).padStart(12, '0')}`, bytes: block.subarray(places[at + 1]!, places[at + 1]! + places[at + 2]!) };
    }
    // Every line has been taken: the blocks serve the lines to come (at most a bound's worth).
    for (const b of blocks) if (b.length === BLOCK_BYTES) this.spare.push(b);
  }

  /** The lines in time order; temporary files are removed when the iteration ends. */
  async *sorted(): AsyncGenerator<string> {
    try {
      if (this.runs.length === 0) {
        for (const { bytes } of this.takePending()) yield bytes.toString();
        return;
      }
      if (this.times.length) this.spill();
      // Every line is on disk now: the blocks are not needed again.
      this.spare = [];
      // Each run read is a buffer held: past MAX_FAN_IN runs, groups are merged into longer runs first.
      for (let merged = 0; this.runs.length > MAX_FAN_IN; merged++) {
        const group = this.runs.splice(0, MAX_FAN_IN);
        const path = join(this.dir!, `merged-${merged}.txt`);
        const out = new RunWriter(path, (this.writeBuffer ??= Buffer.allocUnsafe(BLOCK_BYTES)));
        try {
          for (const text of mergeRuns(group)) {
            this.onMerged?.(text.length);
            out.text(text);
          }
        } finally {
          out.close();
        }
        for (const done of group) rmSync(done, { force: true });
        this.runs.push(path);
      }
      for (const text of mergeRuns(this.runs)) {
        this.onMerged?.(text.length);
        yield text.slice(text.indexOf('\t') + 1);
      }
    } finally {
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Lines written to a run file through one reused buffer. */
class RunWriter {
  private readonly fd: number;
  private n = 0;

  constructor(path: string, private readonly batch: Buffer) {
    this.fd = openSync(path, 'w');
  }

  /** A line of the pending set: its key, a tab, its bytes. */
  line(key: string, bytes: Buffer): void {
    const size = key.length + bytes.length + 2;
    if (this.n + size > this.batch.length) this.flush();
    if (size > this.batch.length) {
      writeSync(this.fd, Buffer.concat([Buffer.from(`${key}\t`), bytes, Buffer.from('\n')]));
      return;
    }
    this.n += this.batch.write(key, this.n, 'latin1');
    this.batch[this.n++] = 0x09;
    this.n += bytes.copy(this.batch, this.n);
    this.batch[this.n++] = 0x0a;
  }

  /** A merged line as read back (key and line). */
  text(text: string): void {
    const size = Buffer.byteLength(text) + 1;
    if (this.n + size > this.batch.length) this.flush();
    if (size > this.batch.length) {
      writeSync(this.fd, `${text}\n`);
      return;
    }
    this.n += this.batch.write(text, this.n);
    this.batch[this.n++] = 0x0a;
  }

  private flush(): void {
    writeSync(this.fd, this.batch, 0, this.n);
    this.n = 0;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

/** Runs merged at once: each is read through its own buffer. */
const MAX_FAN_IN = 16;
const MERGE_READ_BYTES = 64 * 1024;

/** The lines (key, tab, line) of sorted runs, merged into one sorted sequence. */
function* mergeRuns(paths: readonly string[]): Generator<string> {
  // Lines are the sorter's own (a detection each): no bound on their length is needed. Each run is
  // read a block at a time, not a megabyte: sixteen megabyte buffers would be most of the merge's memory.
  const readers = paths.map((path) => readBoundedLines(path, Number.MAX_SAFE_INTEGER, MERGE_READ_BYTES));
  const next = (r: Generator<BoundedLine>): string | undefined => {
    const l = r.next();
    return l.done ? undefined : 'text' in l.value ? l.value.text : '';
  };
  const heads = readers.map(next);
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) if (heads[i] !== undefined && (best < 0 || heads[i]! < heads[best]!)) best = i;
    if (best < 0) return;
    yield heads[best]!;
    heads[best] = next(readers[best]!);
  }
}
