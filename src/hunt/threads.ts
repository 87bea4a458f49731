import { availableParallelism } from 'node:os';

/**
 * A hunt thread pays for itself only past tens of megabytes of evidence: each one loads the rule set
 * (about a second for all of SigmaHQ, from the rule cache) before it can help, while the calling
 * thread hunts ~40 MB of EVTX a second (bench/results/hunt.json).
 */
const BYTES_PER_THREAD = 64 * 1024 * 1024;

/**
 * Threads for a hunt (the calling thread included): as asked, else one per core the input can keep
 * busy, but only with cores to spare: on two cores a second thread hunts 5.45 GB 1.55× faster but,
 * holding a second copy of the rule set, peaks at 410 MiB instead of 275 (bench/results/memory.json),
 * past the 300 MB bound a hunt keeps on any input size. `--threads 2` trades the memory for speed.
 */
export function chooseHuntThreads(files: readonly { size: number }[], requested: number): number {
  if (requested > 0) return requested;
  const cores = availableParallelism();
  if (cores <= 2) return 1;
  const bytes = files.reduce((n, f) => n + f.size, 0);
  return Math.max(1, Math.min(cores, Math.floor(bytes / BYTES_PER_THREAD)));
}
