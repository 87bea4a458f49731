import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Bytes a log file holds in memory before it writes them out. */
const BUFFER_BYTES = 1 << 20;

/** A log file being written: its header once, then lines, buffered; it knows each line's number. */
export class LogFile {
  private fd: number;
  private parts: string[] = [];
  private pending = 0;
  /** Lines written so far, header included (the next line's number is lines + 1). */
  lines = 0;
  bytes = 0;

  /** `name`: the path under the evidence folder, '/'-separated. */
  constructor(readonly path: string, readonly name: string, header: readonly string[]) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'w');
    for (const h of header) this.write(h);
  }

  /** Writes a line; returns its 1-based number. */
  write(line: string): number {
    this.parts.push(line, '\r\n');
    this.pending += line.length + 2;
    if (this.pending >= BUFFER_BYTES) this.flush();
    return ++this.lines;
  }

  private flush(): void {
    if (!this.parts.length) return;
    const buf = Buffer.from(this.parts.join(''), 'utf8');
    writeSync(this.fd, buf);
    this.bytes += buf.length;
    this.parts = [];
    this.pending = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Log files by path, opened on first use, with the total written. */
export class LogFiles {
  private readonly open = new Map<string, LogFile>();
  private closedBytes = 0;

  constructor(readonly root: string) {}

  /** The log file at a path under the root, opened with its header if it is new. */
  get(path: string, header: () => readonly string[]): LogFile {
    let f = this.open.get(path);
    if (!f) this.open.set(path, (f = new LogFile(join(this.root, path), path, header())));
    return f;
  }

  /** Closes the files whose paths `done` says are finished (an hour's or a day's log that has rolled over). */
  closeWhere(done: (path: string) => boolean): void {
    for (const [p, f] of this.open) {
      if (!done(p)) continue;
      f.close();
      this.closedBytes += f.bytes;
      this.open.delete(p);
    }
  }

  /** About how many bytes are written so far (buffered ones included). */
  get written(): number {
    let n = this.closedBytes;
    for (const f of this.open.values()) n += f.bytes;
    return n;
  }

  closeAll(): void {
    this.closeWhere(() => true);
  }
}
