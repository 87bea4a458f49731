import { CHUNK_SIZE, FILE_HEADER_SIZE } from './constants.js';
import type { EvtxDiagnostic } from './errors.js';
import { chunkSlots, type EvtxFileSummary, readEvtxFile } from './reader.js';
import { ByteBuffer } from './byte-buffer.js';
import type { RenderMode } from './chunk.js';

/** A piece of parsing work: some chunks of one file. Units of a file are read and written in order. */
export interface WorkUnit {
  file: string;
  firstChunk: number;
  endChunk: number;
  /** Index of this unit within its file (0 = the unit that reports the file header). */
  part: number;
}

export interface UnitResult {
  /** The records as UTF-8 text, ready to write (transferred, not copied, between threads). */
  data: Uint8Array;
  diagnostics: EvtxDiagnostic[];
  summary: EvtxFileSummary;
}

/** What follows each XML record in `spoor dump` output, leaving a blank line between events. */
const RECORD_SEPARATOR = '\n';

/** Chunks per unit: large files are split so that both cores share them. */
export const CHUNKS_PER_UNIT = 16;

export function planUnits(file: string, size: number): WorkUnit[] {
  const slots = chunkSlots(size);
  const units: WorkUnit[] = [];
  for (let first = 0, part = 0; first < Math.max(slots, 1); first += CHUNKS_PER_UNIT, part++) {
    units.push({ file, firstChunk: first, endChunk: Math.min(first + CHUNKS_PER_UNIT, slots), part });
  }
  return units;
}

export function unitBytes(u: WorkUnit): number {
  return (u.endChunk - u.firstChunk) * CHUNK_SIZE + (u.part === 0 ? FILE_HEADER_SIZE : 0);
}

/** Parses one unit and renders its records: JSON lines straight into bytes, XML through text. */
export function runUnit(unit: WorkUnit, mode: RenderMode): UnitResult {
  const diagnostics: EvtxDiagnostic[] = [];
  const output = mode === 'json' ? new ByteBuffer(1 << 18) : undefined;
  const it = readEvtxFile(unit.file, { render: mode, output, firstChunk: unit.firstChunk, endChunk: unit.endChunk, onDiagnostic: (d) => diagnostics.push(d) });
  // Joined once at the end, into one flat string: += would build a rope to be flattened later.
  const parts: string[] = [];
  for (;;) {
    const next = it.next();
    if (next.done) {
      const data = output ? output.result() : Buffer.from(parts.join(''), 'utf8');
      return { data, diagnostics, summary: next.value };
    }
    if (!output) parts.push(next.value.text!, RECORD_SEPARATOR);
  }
}
