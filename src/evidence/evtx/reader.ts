import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { type ChunkResult, type EvtxRecord, parseChunk, type RenderMode } from './chunk.js';
import { CHUNK_SIZE, FILE_HEADER_SIZE, FILE_MAGIC } from './constants.js';
import type { ByteBuffer } from './byte-buffer.js';
import type { EvtxDiagnostic } from './errors.js';

export interface EvtxFileHeader {
  firstChunk: number | bigint;
  lastChunk: number | bigint;
  nextRecordId: number | bigint;
  majorVersion: number;
  minorVersion: number;
  chunkCount: number;
  dirty: boolean;
  full: boolean;
}

export interface EvtxReadOptions {
  render: RenderMode;
  onDiagnostic?: (d: EvtxDiagnostic) => void;
  /** In `json` mode: write records here as JSON lines (UTF-8), chunk by chunk, instead of setting their text. */
  output?: ByteBuffer;
  /** Read only chunks [firstChunk, endChunk): how workers split one large file. */
  firstChunk?: number;
  endChunk?: number;
}

export interface EvtxFileSummary {
  /** False when the file could not be read at all (missing, unreadable, not EVTX). */
  readable: boolean;
  header?: EvtxFileHeader;
  chunks: number;
  records: number;
  errors: number;
  warnings: number;
}

/** Chunks read per system call: large enough to amortise the call, small enough to keep memory flat. */
const CHUNKS_PER_READ = 16;

/** Parses the 4 KiB file header; diagnostics for what is off, undefined if it is not an EVTX file at all. */
export function parseFileHeader(buf: Buffer, file: string, report: (d: EvtxDiagnostic) => void): EvtxFileHeader | undefined {
  const at = (offset: number, severity: EvtxDiagnostic['severity'], message: string) =>
    report({ file, chunk: -1, offset, severity, message });
  if (buf.length < 128 || buf.toString('latin1', 0, 8) !== FILE_MAGIC) {
    at(0, 'error', 'not an EVTX file (no ElfFile signature)');
    return undefined;
  }
  if (crc32(buf.subarray(0, 120)) !== buf.readUInt32LE(124)) at(124, 'warning', 'file header checksum mismatch');
  const flags = buf.readUInt32LE(120);
  const hi = (o: number) => (buf.readUInt32LE(o + 4) === 0 ? buf.readUInt32LE(o) : buf.readBigUInt64LE(o));
  return {
    firstChunk: hi(8),
    lastChunk: hi(16),
    nextRecordId: hi(24),
    minorVersion: buf.readUInt16LE(36),
    majorVersion: buf.readUInt16LE(38),
    chunkCount: buf.readUInt16LE(42),
    dirty: (flags & 1) !== 0,
    full: (flags & 2) !== 0,
  };
}

/** How many 64 KiB chunk slots a file of this size has (a cut-short last one counts). */
export function chunkSlots(fileSize: number): number {
  return Math.max(0, Math.ceil((fileSize - FILE_HEADER_SIZE) / CHUNK_SIZE));
}

/**
 * Streams the records of an EVTX file, one chunk at a time. Every chunk present is read, whatever the
 * header's chunk count says (dirty files undercount); corrupt pieces are reported and skipped.
 * The generator's return value summarises the file.
 */
export function* readEvtxFile(file: string, options: EvtxReadOptions): Generator<EvtxRecord, EvtxFileSummary> {
  const summary: EvtxFileSummary = { readable: false, chunks: 0, records: 0, errors: 0, warnings: 0 };
  const report = (d: EvtxDiagnostic) => {
    if (d.severity === 'error') summary.errors++;
    else summary.warnings++;
    options.onDiagnostic?.(d);
  };
  let fd: number;
  let block: Buffer | undefined;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    report({ file, chunk: -1, offset: 0, severity: 'error', message: (e as Error).message });
    return summary;
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(FILE_HEADER_SIZE, size));
    readSync(fd, head, 0, head.length, 0);
    const header = parseFileHeader(head, file, (options.firstChunk ?? 0) === 0 ? report : () => undefined);
    if (!header) return summary;
    summary.readable = true;
    summary.header = header;
    if (header.dirty && (options.firstChunk ?? 0) === 0) {
      report({ file, chunk: -1, offset: 120, severity: 'warning', message: 'file is marked dirty (not closed cleanly); reading every chunk present' });
    }
    const slots = chunkSlots(size);
    const end = Math.min(options.endChunk ?? slots, slots);
    block = takeBlock();
    for (let first = options.firstChunk ?? 0; first < end; first += CHUNKS_PER_READ) {
      const count = Math.min(CHUNKS_PER_READ, end - first);
      const start = FILE_HEADER_SIZE + first * CHUNK_SIZE;
      const got = readSync(fd, block, 0, Math.min(count * CHUNK_SIZE, block.length), start);
      for (let i = 0; i < count; i++) {
        const from = i * CHUNK_SIZE;
        if (from >= got) break;
        const result: ChunkResult = parseChunk(block.subarray(from, Math.min(from + CHUNK_SIZE, got)), first + i, start + from, file, options.render, options.output);
        if (result.used) summary.chunks++;
        for (const d of result.diagnostics) report(d);
        for (const r of result.records) {
          summary.records++;
          yield r;
        }
      }
    }
    return summary;
  } catch (e) {
    // Only I/O errors end up here as diagnostics; anything else is a bug and must surface.
    if ((e as NodeJS.ErrnoException).code === undefined) throw e;
    report({ file, chunk: -1, offset: 0, severity: 'error', message: `read failed: ${(e as Error).message}` });
    return summary;
  } finally {
    closeSync(fd);
    if (block) releaseBlock(block);
  }
}

/**
 * One read buffer serves every file read on a thread in turn (records are rendered before the next
 * read, so nothing points into it); a second reader open at the same time gets its own.
 */
let spareBlock: Buffer | undefined;

function takeBlock(): Buffer {
  const b = spareBlock ?? Buffer.allocUnsafeSlow(CHUNK_SIZE * CHUNKS_PER_READ);
  spareBlock = undefined;
  return b;
}

function releaseBlock(b: Buffer): void {
  spareBlock = b;
}
