import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { runOrdered } from '../../common/ordered-pool.js';
import type { RenderMode } from './chunk.js';
import { runUnit, type UnitResult, unitBytes, type WorkUnit } from './work.js';

export interface ParallelOptions {
  mode: RenderMode;
  /** Worker threads; 0 picks from the cores and the amount of work, 1 parses on the calling thread. */
  threads: number;
  /** Receives each unit's result, in unit order. May return a promise to apply backpressure. */
  onResult: (unit: WorkUnit, result: UnitResult) => void | Promise<void>;
}

/**
 * Workers pay only with cores to spare: on two cores one parsing thread already keeps both busy
 * (V8 collects garbage and compiles on the other), and a second parser measured slower
 * (bench/results/evtx.json). So by default: one worker per core beyond two, when the input is
 * large enough to amortise a worker's start (about 100 ms), else the calling thread alone.
 */
const BYTES_PER_WORKER = 16 * 1024 * 1024;

export function chooseThreads(units: readonly WorkUnit[], requested: number): number {
  if (requested > 0) return requested;
  const bytes = units.reduce((n, u) => n + unitBytes(u), 0);
  const spareCores = availableParallelism() - 1;
  if (spareCores < 2) return 1;
  return Math.max(1, Math.min(spareCores, Math.floor(bytes / BYTES_PER_WORKER), units.length));
}

/** Parses units on worker threads and hands results back in unit order, a bounded window at a time. */
export async function parseUnits(units: readonly WorkUnit[], options: ParallelOptions): Promise<void> {
  const threads = chooseThreads(units, options.threads);
  if (threads <= 1) {
    for (const u of units) await options.onResult(u, runUnit(u, options.mode));
    return;
  }
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./dump-worker.js', import.meta.url)));
  try {
    await runOrdered({ tasks: units, workers, window: threads * 4, message: { mode: options.mode }, onResult: (u, r: UnitResult) => options.onResult(u, r) });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
