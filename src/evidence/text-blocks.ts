import { isAscii } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';

/** Bytes read at a time, and the size of the strings made from them. */
const READ_BYTES = 1024 * 1024;
const BLOCK_BYTES = 64 * 1024;

/** Where UTF-8 bytes [0, n) can be cut without splitting a character: before an incomplete last sequence. */
function completeLength(buf: Uint8Array, n: number): number {
  let i = n - 1;
  while (i >= 0 && i >= n - 4 && (buf[i]! & 0xc0) === 0x80) i--;
  if (i < 0 || i < n - 4) return n;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return n - i < need ? i : n;
}

/** Read buffers not in use: a megabyte allocated for each file read would keep the allocator and GC busy. */
const spare: Buffer[] = [];

/** A block of a text file, and whether it is plain ASCII (then searches need no Unicode case folding). */
export interface TextBlock {
  text: string;
  ascii: boolean;
}

/**
 * A text file's content a block at a time, decoded as UTF-8 (a character split between blocks comes
 * whole in the later one), so readers can stream files of any size through bounded memory. Blocks are
 * 64 KiB: V8 makes strings up to about that size at memory speed, larger ones some thirty times slower.
 */
export function* readTextChunks(file: string, range?: ByteRange, readBytes = READ_BYTES): Generator<TextBlock> {
  const fd = openSync(file, 'r');
  const pooled = readBytes === READ_BYTES;
  const buf = (pooled && spare.pop()) || Buffer.allocUnsafe(readBytes + BLOCK_BYTES);
  try {
    let kept = 0;
    let pos = range?.start ?? 0;
    const stop = range?.end ?? Infinity;
    for (;;) {
      const n = pos < stop ? readSync(fd, buf, kept, Math.min(readBytes, stop - pos), pos) : 0;
      if (n === 0) break;
      pos += n;
      const have = kept + n;
      let at = 0;
      while (have - at >= BLOCK_BYTES) {
        const cut = at + completeLength(buf.subarray(at, at + BLOCK_BYTES), BLOCK_BYTES);
        const bytes = buf.subarray(at, cut);
        yield { text: bytes.toString('utf8'), ascii: isAscii(bytes) };
        at = cut;
      }
      // What is left (less than a block) waits for more bytes, unless it is the end of the file.
      buf.copy(buf, 0, at, have);
      kept = have - at;
    }
    let at = 0;
    while (at < kept) {
      const end = Math.min(kept, at + BLOCK_BYTES);
      const cut = end === kept ? end : at + completeLength(buf.subarray(at, end), end - at);
      const bytes = buf.subarray(at, cut);
      yield { text: bytes.toString('utf8'), ascii: isAscii(bytes) };
      at = cut;
    }
  } finally {
    closeSync(fd);
    if (pooled && spare.length < 4) spare.push(buf);
  }
}

/** The blocks of a text file (or of a byte range of it) as strings. */
export function* readTextBlocks(file: string, range?: ByteRange, readBytes?: number): Generator<string> {
  for (const b of readTextChunks(file, range, readBytes)) yield b.text;
}

/** Bytes [start, end) of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A line-based file cut into ranges of about `size` bytes, each starting at the start of a line, so
 * that each can be read alone (by another thread) and the matches of a large file are not all held
 * at once.
 */
export function lineRanges(file: string, fileSize: number, size: number): ByteRange[] {
  const starts = [0];
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(BLOCK_BYTES);
  try {
    for (let nominal = size; nominal < fileSize; ) {
      // The next line starts after the first newline at or after the byte before `nominal`.
      let pos = nominal - 1;
      let next = -1;
      while (next < 0 && pos < fileSize) {
        const n = readSync(fd, buf, 0, BLOCK_BYTES, pos);
        if (n === 0) break;
        const nl = buf.subarray(0, n).indexOf(10);
        if (nl >= 0) next = pos + nl + 1;
        pos += n;
      }
      if (next < 0 || next >= fileSize) break;
      starts.push(next);
      nominal = next + size;
    }
  } finally {
    closeSync(fd);
  }
  return starts.map((start, i) => ({ start, end: starts[i + 1] ?? fileSize }));
}

/** A line of a text file, or the number of characters of one left out for being too long. */
export type BoundedLine = { lineNo: number; text: string } | { lineNo: number; tooLong: number };

/**
 * A text file's lines (without their \n or \r\n), never holding more than `maxChars` of one: a longer
 * line is read past and reported by its length, so a hostile file of one endless line costs no memory.
 */
export function* readBoundedLines(file: string, maxChars: number, readBytes?: number): Generator<BoundedLine> {
  let parts: string[] = [];
  let size = 0;
  let lineNo = 1;
  const end = (): BoundedLine => {
    const out: BoundedLine = size > maxChars ? { lineNo, tooLong: size } : { lineNo, text: parts.join('').replace(/\r$/, '') };
    parts = [];
    size = 0;
    lineNo++;
    return out;
  };
  for (const block of readTextBlocks(file, undefined, readBytes)) {
    let at = 0;
    for (let nl = block.indexOf('\n'); nl >= 0; nl = block.indexOf('\n', at)) {
      if (size + nl - at <= maxChars) parts.push(block.slice(at, nl));
      size += nl - at;
      yield end();
      at = nl + 1;
    }
    if (size + block.length - at <= maxChars) parts.push(block.slice(at));
    else parts = [];
    size += block.length - at;
  }
  if (size > 0) yield end();
}
