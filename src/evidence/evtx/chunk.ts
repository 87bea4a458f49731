import { crc32 } from 'node:zlib';
import { BinXmlParser } from './binxml.js';
import type { ByteBuffer } from './byte-buffer.js';
import { CHUNK_HEADER_SIZE, CHUNK_MAGIC, CHUNK_SIZE, RECORD_HEADER_SIZE, RECORD_MAGIC } from './constants.js';
import { type EvtxDiagnostic, EvtxFormatError } from './errors.js';
import type { RawEvent } from '../event.js';
import type { EventObject } from './json-sink.js';
import { renderRecord } from './render.js';
import { filetime, readU64 } from './values.js';

/**
 * What a record is rendered to: `event`, the evtx_dump-shaped object; `view`, the Event rules see,
 * read from the record's values without that object (valid only until the next record is read: it
 * points into the read buffer); `json`, evtx_dump's JSON text; `xml`, Event Viewer's XML text.
 */
export type RenderMode = 'event' | 'view' | 'json' | 'xml';

export interface EvtxRecord {
  recordId: number | bigint;
  /** When the record was written (its header's FILETIME), ISO-8601 UTC to the microsecond. */
  timestamp: string;
  /** Chunk index in the file. */
  chunk: number;
  /** Byte offset of the record in the file. */
  offset: number;
  /** The event in evtx_dump's JSON shape (`{"Event": {...}}`), in `event` mode. */
  event?: EventObject;
  /** The event as rules see it, in `view` mode. */
  view?: RawEvent;
  /** The event as JSON text (`json` mode) or XML (`xml` mode). */
  text?: string;
}

export interface ChunkResult {
  records: EvtxRecord[];
  diagnostics: EvtxDiagnostic[];
  /** False when the block held no chunk at all (zero-filled, never used). */
  used: boolean;
}

const RECORD_SIGNATURE = Buffer.from([0x2a, 0x2a, 0x00, 0x00]);

const ZEROS = Buffer.alloc(CHUNK_SIZE);

function isZero(buf: Buffer, start: number, end: number): boolean {
  return buf.subarray(start, end).equals(ZEROS.subarray(0, end - start));
}

/**
 * Reads the records of one chunk. `buf` holds the chunk (64 KiB, or less when the file is cut short).
 * Nothing throws: every problem becomes a diagnostic and only the piece at fault is skipped.
 * In `json` mode with `out`, records are written to `out` as JSON lines instead of kept as text.
 */
export function parseChunk(buf: Buffer, chunk: number, fileOffset: number, file: string, mode: RenderMode, out?: ByteBuffer): ChunkResult {
  const records: EvtxRecord[] = [];
  const diagnostics: EvtxDiagnostic[] = [];
  const report = (offset: number, severity: EvtxDiagnostic['severity'], message: string) =>
    diagnostics.push({ file, chunk, offset: fileOffset + offset, severity, message });

  if (buf.length < CHUNK_HEADER_SIZE || buf.toString('latin1', 0, 8) !== CHUNK_MAGIC) {
    if (isZero(buf, 0, buf.length)) return { records, diagnostics, used: false };
    report(0, 'error', buf.length < CHUNK_HEADER_SIZE ? 'chunk is truncated before the end of its header' : 'bad chunk signature; chunk skipped');
    return { records, diagnostics, used: true };
  }
  const headerCrc = crc32(buf.subarray(128, CHUNK_HEADER_SIZE), crc32(buf.subarray(0, 120)));
  if (headerCrc !== buf.readUInt32LE(124)) report(124, 'warning', 'chunk header checksum mismatch; records read anyway');

  let freeSpace = buf.readUInt32LE(48);
  if (freeSpace < CHUNK_HEADER_SIZE || freeSpace > buf.length) {
    if (freeSpace > buf.length && buf.length < CHUNK_SIZE) report(48, 'warning', `chunk is truncated at ${buf.length} bytes`);
    else report(48, 'warning', `free space offset 0x${freeSpace.toString(16)} is out of range`);
    freeSpace = buf.length;
  } else if (crc32(buf.subarray(CHUNK_HEADER_SIZE, freeSpace)) !== buf.readUInt32LE(52)) {
    report(52, 'warning', 'event records checksum mismatch; records read anyway');
  }

  const parser = new BinXmlParser(buf);
  let pos = CHUNK_HEADER_SIZE;
  const read = (at: number, size: number): boolean => {
    const recordId = readU64(buf, at + 8);
    try {
      const nodes = parser.parseDocument(at + RECORD_HEADER_SIZE, at + size - 4);
      const record: EvtxRecord = { recordId, timestamp: filetime(buf, at + 16, 6), chunk, offset: fileOffset + at };
      renderRecord(parser, nodes, buf, mode, record, out);
      records.push(record);
      return true;
    } catch (e) {
      if (!(e instanceof EvtxFormatError) && !(e instanceof RangeError)) throw e;
      report(at, 'error', `record ${recordId}: ${e.message}; record skipped`);
      return false;
    }
  };
  while (pos + RECORD_HEADER_SIZE <= freeSpace) {
    const problem = recordProblem(buf, pos);
    if (problem) {
      if (isZero(buf, pos, freeSpace)) break;
      // A record cut short when the log was not closed (its size's copy not yet written): read as it
      // stands when its XML parses, as evtx_dump and python-evtx do, then look for the next record.
      const torn = problem.endsWith('does not match its copy') && read(pos, buf.readUInt32LE(pos + 4));
      report(pos, torn ? 'warning' : 'error', torn ? `record ${readU64(buf, pos + 8)}: ${problem}; read as it stands, then scanning for the next record` : `${problem}; scanning for the next record`);
      pos = nextRecord(buf, pos + 1, freeSpace);
      continue;
    }
    const size = buf.readUInt32LE(pos + 4);
    read(pos, size);
    pos += size;
  }
  return { records, diagnostics, used: true };
}

/** Why the bytes at pos are not a record header with a consistent size, or undefined if they are. */
function recordProblem(buf: Buffer, pos: number): string | undefined {
  if (buf.readUInt32LE(pos) !== RECORD_MAGIC) return 'no record signature';
  const size = buf.readUInt32LE(pos + 4);
  if (size < RECORD_HEADER_SIZE + 4 || pos + size > buf.length) return `record size ${size} is out of range`;
  if (buf.readUInt32LE(pos + size - 4) !== size) return `record size ${size} does not match its copy`;
  return undefined;
}

/** Offset of the next plausible record at or after `from`, or `end` if there is none. */
function nextRecord(buf: Buffer, from: number, end: number): number {
  for (let p = buf.indexOf(RECORD_SIGNATURE, from); p >= 0 && p + RECORD_HEADER_SIZE <= end; p = buf.indexOf(RECORD_SIGNATURE, p + 1)) {
    if (!recordProblem(buf, p)) return p;
  }
  return end;
}
