import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { spoorHome } from '../common/home.js';
import { type AutomatonStore, type AutomatonTables, automatonTablesAreSound } from './aho-corasick.js';

/**
 * Rule-index automatons kept between runs: building the DFA over SigmaHQ's ~23,600 literals (their
 * eight-character prefixes) costs ~150 ms of every hunt's start, reading its 8 MB back a tenth of that. A file serves only the exact
 * literals it was built from (their digest names it) and is checked cell by cell before use, so a
 * damaged or planted file is rebuilt over, never trusted. The four last built are kept (one per rule set
 * in use). `SPOOR_NO_CACHE=1` turns it off.
 */
const MAGIC = 'SPOORAC2';
const KEEP = 4;

interface Header {
  literals: number;
  chars: number;
  prefix: number;
  firstOther: number;
  classes: number;
  /** Bytes per delta cell: 2 or 4. */
  cell: number;
  delta: number;
  outStart: number;
  outIds: number;
}

export class AutomatonCache implements AutomatonStore {
  constructor(private readonly dir = join(spoorHome(), 'cache', 'automata')) {}

  load(literals: readonly string[], prefix = 0): AutomatonTables | undefined {
    const file = join(this.dir, `${digest(literals, prefix)}.bin`);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return undefined;
    }
    try {
      const size = statSync(file).size;
      const head = Buffer.alloc(12);
      if (readSync(fd, head, 0, 12, 0) !== 12 || head.toString('latin1', 0, 8) !== MAGIC) return undefined;
      const headerBytes = head.readUInt32LE(8);
      if (headerBytes > 4096) return undefined;
      const h = JSON.parse(readExactly(fd, headerBytes, 12).toString('utf8')) as Header;
      const counts = [h.literals, h.chars, h.prefix, h.firstOther, h.classes, h.delta, h.outStart, h.outIds];
      if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0) || (h.cell !== 2 && h.cell !== 4)) return undefined;
      let at = align(12 + headerBytes);
      if (size !== at + 128 + h.delta * h.cell + (h.outStart + h.outIds) * 4) return undefined;
      const asciiClass = new Uint8Array(readExactly(fd, 128, at));
      at += 128;
      // The large table goes to shared memory, as a built one does: hunting threads share it.
      const cells = new SharedArrayBuffer(h.delta * h.cell);
      readInto(fd, new Uint8Array(cells), at);
      at += h.delta * h.cell;
      const outStart = new Int32Array(h.outStart);
      readInto(fd, new Uint8Array(outStart.buffer), at);
      at += h.outStart * 4;
      const outIds = new Int32Array(h.outIds);
      readInto(fd, new Uint8Array(outIds.buffer), at);
      const tables: AutomatonTables = {
        literals: h.literals,
        chars: h.chars,
        prefix: h.prefix,
        asciiClass,
        firstOther: h.firstOther,
        classes: h.classes,
        delta: h.cell === 2 ? new Uint16Array(cells) : new Int32Array(cells),
        outStart,
        outIds,
      };
      return automatonTablesAreSound(tables, literals, prefix) ? tables : undefined;
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /** Writes the tables (atomically; a failure, such as a read-only home, only costs the next run time). */
  save(literals: readonly string[], t: AutomatonTables): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      const header = Buffer.from(
        JSON.stringify({
          literals: t.literals,
          chars: t.chars,
          prefix: t.prefix,
          firstOther: t.firstOther,
          classes: t.classes,
          cell: t.delta.BYTES_PER_ELEMENT,
          delta: t.delta.length,
          outStart: t.outStart.length,
          outIds: t.outIds.length,
        } satisfies Header),
      );
      const head = Buffer.alloc(align(12 + header.length));
      head.write(MAGIC, 0, 'latin1');
      head.writeUInt32LE(header.length, 8);
      header.copy(head, 12);
      const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      const file = join(this.dir, `${digest(literals, t.prefix)}.bin`);
      const tmp = `${file}.${process.pid}.${threadId}.tmp`;
      writeFileSync(tmp, Buffer.concat([head, t.asciiClass, bytes(t.delta), bytes(t.outStart), bytes(t.outIds)]));
      renameSync(tmp, file);
      this.prune();
    } catch {
      // Run without a cache.
    }
  }

  private prune(): void {
    const files = readdirSync(this.dir)
      .filter((f) => f.endsWith('.bin'))
      .map((f) => ({ f, t: statSync(join(this.dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of files.slice(KEEP)) unlinkSync(join(this.dir, f));
  }
}

function digest(literals: readonly string[], prefix: number): string {
  const h = createHash('sha256').update(`${prefix}\0`);
  for (const l of literals) h.update(l).update('\0');
  return h.digest('hex');
}

const align = (n: number) => (n + 3) & ~3;

function readExactly(fd: number, length: number, position: number): Buffer {
  const b = Buffer.alloc(length);
  readInto(fd, b, position);
  return b;
}

function readInto(fd: number, into: Uint8Array, position: number): void {
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error('short file');
    done += n;
  }
}
