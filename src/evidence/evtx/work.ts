import { CHUNK_SIZE, FILE_HEADER_SIZE } from './constants.js';
import type { EvtxDiagnostic } from './errors.js';
import { chunkSlots, type EvtxFileSummary, readEvtxFile } from './reader.js';
import type { RenderMode } from './chunk.js';
import { recordText } from './render.js';

/** A piece of parsing work: some chunks of one file. Units of a file are read and written in order. */
export interface WorkUnit {
  file: string;
  firstChunk: number;
  endChunk: number;
  /** Index of this unit within its file (0 = the unit that reports the file header). */
  part: number;
}

export interface UnitResult {
  text: string;
  diagnostics: EvtxDiagnostic[];
  summary: EvtxFileSummary;
}

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

/** Parses one unit and renders its records as text. */
export function runUnit(unit: WorkUnit, mode: RenderMode): UnitResult {
  const diagnostics: EvtxDiagnostic[] = [];
  const it = readEvtxFile(unit.file, { render: mode, firstChunk: unit.firstChunk, endChunk: unit.endChunk, onDiagnostic: (d) => diagnostics.push(d) });
  // Joined once at the end: a long chain of += would keep every piece alive until then.
  const parts: string[] = [];
  for (;;) {
    const next = it.next();
    if (next.done) return { text: parts.join(''), diagnostics, summary: next.value };
    parts.push(recordText(next.value));
  }
}
