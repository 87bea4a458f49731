import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { runOrdered } from '../../common/ordered-pool.js';
import { threadsFor } from '../../common/threads.js';
import type { RenderMode } from './chunk.js';
import { runUnit, type UnitResult, unitBytes, type WorkUnit } from './work.js';

export interface ParallelOptions {
  mode: RenderMode;
  /** Worker threads; 0 picks from the cores and the amount of work, 1 parses on the calling thread. */
  threads: number;
  /** Receives each unit's result, in unit order. May return a promise to apply backpressure. */
  onResult: (unit: WorkUnit, result: UnitResult) => void | Promise<void>;
}

/** Parsing workers (the calling thread only writes): one per 16 MB of input, one per spare core at most. */
const BYTES_PER_WORKER = 16 * 1024 * 1024;

export function chooseThreads(units: readonly WorkUnit[], requested: number): number {
  const bytes = units.reduce((n, u) => n + unitBytes(u), 0);
  return threadsFor(requested, bytes, BYTES_PER_WORKER, Math.min(availableParallelism() - 1, units.length));
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
