import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Sorts output lines by time without holding them all: lines collect in memory up to a bound, then
 * go to a temporary file as a sorted run; the sorted output is a merge of the runs. Lines of equal
 * time keep the order they came in. A line must not contain a newline (JSONL and CSV rows do not).
 */
export class TimelineSorter {
  private pending: { key: string; line: string }[] = [];
  private pendingBytes = 0;
  private seq = 0;
  private readonly runs: string[] = [];
  private dir: string | undefined;

  constructor(private readonly limitBytes = 32 * 1024 * 1024) {}

  /** Adds a line with its event time (ISO-8601; lines without a readable time sort last). */
  add(timestamp: string, line: string): void {
    const t = Date.parse(timestamp);
    // Fixed-width keys sort as strings: time in ms (shifted to stay positive), then arrival.
    const time = Number.isNaN(t) ? '~' : String(t + 1e14).padStart(16, '0');
    this.pending.push({ key: `${time}:${String(this.seq++).padStart(12, '0')}`, line });
    this.pendingBytes += line.length * 2 + 64;
    if (this.pendingBytes >= this.limitBytes) this.spill();
  }

  /** How many runs went to disk (0 when everything fitted in memory). */
  get spilled(): number {
    return this.runs.length;
  }

  private spill(): void {
    this.dir ??= mkdtempSync(join(tmpdir(), 'spoor-sort-'));
    const path = join(this.dir, `run-${this.runs.length}.txt`);
    const sorted = this.sortPending();
    // Written a slice at a time: one string of the whole run would double the memory the bound allows.
    const fd = openSync(path, 'w');
    try {
      for (let i = 0; i < sorted.length; i += 4096) writeSync(fd, sorted.slice(i, i + 4096).map((p) => `${p.key}\t${p.line}\n`).join(''));
    } finally {
      closeSync(fd);
    }
    this.runs.push(path);
  }

  private sortPending(): { key: string; line: string }[] {
    const sorted = this.pending.sort((a, b) => (a.key < b.key ? -1 : 1));
    this.pending = [];
    this.pendingBytes = 0;
    return sorted;
  }

  /** The lines in time order; temporary files are removed when the iteration ends. */
  async *sorted(): AsyncGenerator<string> {
    try {
      if (this.runs.length === 0) {
        for (const p of this.sortPending()) yield p.line;
        return;
      }
      if (this.pending.length) this.spill();
      const readers = this.runs.map((path) => createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })[Symbol.asyncIterator]());
      const heads = await Promise.all(readers.map((r) => r.next()));
      for (;;) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          if (heads[i]!.done) continue;
          if (best < 0 || (heads[i]!.value as string) < (heads[best]!.value as string)) best = i;
        }
        if (best < 0) return;
        const text = heads[best]!.value as string;
        yield text.slice(text.indexOf('\t') + 1);
        heads[best] = await readers[best]!.next();
      }
    } finally {
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
