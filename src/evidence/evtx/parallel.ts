import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
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

/**
 * Parses units on worker threads and hands results back in unit order. At most a window of units is
 * in flight or waiting to be written, so memory stays bounded whatever the input size.
 */
export async function parseUnits(units: readonly WorkUnit[], options: ParallelOptions): Promise<void> {
  const threads = chooseThreads(units, options.threads);
  if (threads <= 1) {
    for (const u of units) await options.onResult(u, runUnit(u, options.mode));
    return;
  }
  const window = threads * 4;
  const done = new Map<number, UnitResult>();
  let next = 0; // next unit to dispatch
  let written = 0; // next unit to hand to onResult
  let failure: unknown;
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./dump-worker.js', import.meta.url)));
  try {
    await new Promise<void>((resolve, reject) => {
      let flushing = false;
      const flush = async () => {
        if (flushing) return;
        flushing = true;
        try {
          while (done.has(written)) {
            const r = done.get(written)!;
            done.delete(written);
            await options.onResult(units[written]!, r);
            written++;
          }
          for (const w of idle.splice(0)) dispatch(w);
          if (written === units.length) resolve();
        } catch (e) {
          reject(e);
        } finally {
          flushing = false;
        }
        if (done.has(written)) void flush();
      };
      const idle: Worker[] = [];
      const dispatch = (w: Worker) => {
        if (next >= units.length || next >= written + window) {
          idle.push(w);
          return;
        }
        const id = next++;
        w.postMessage({ id, unit: units[id], mode: options.mode });
      };
      for (const w of workers) {
        w.on('message', (msg: { id: number; result: UnitResult }) => {
          done.set(msg.id, msg.result);
          dispatch(w);
          void flush();
        });
        w.on('error', (e) => {
          failure = e;
          reject(e);
        });
        dispatch(w);
      }
      if (units.length === 0) resolve();
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (failure) throw failure;
}
