import { availableParallelism } from 'node:os';

/**
 * How many threads to run: as asked, else one per `bytesPerThread` of input up to `most`, but only
 * on machines with cores to spare. On two cores one busy thread already keeps both cores working
 * (V8 collects garbage and compiles on the other): a second parser measured slower
 * (bench/results/evtx.json), and a second hunting thread, though 1.55× faster on 5 GB, holds a
 * second copy of the rules and peaks at 410 MiB instead of 275 (bench/results/memory.json), past
 * the 300 MB a hunt keeps to.
 */
export function threadsFor(requested: number, bytes: number, bytesPerThread: number, most = availableParallelism()): number {
  if (requested > 0) return requested;
  if (availableParallelism() <= 2) return 1;
  return Math.max(1, Math.min(most, Math.floor(bytes / bytesPerThread)));
}
