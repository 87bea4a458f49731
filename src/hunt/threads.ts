import { availableParallelism } from 'node:os';

/**
 * A hunt thread pays for itself only past tens of megabytes of evidence: each one loads the rule set
 * (about a second for all of SigmaHQ, from the rule cache) before it can help, while the calling
 * thread hunts ~40 MB of EVTX a second (bench/results/hunt.json).
 */
const BYTES_PER_THREAD = 64 * 1024 * 1024;

/**
 * Threads for a hunt (the calling thread included): as asked, else one per core the input can keep
 * busy, but only with cores to spare: on two cores a second thread gains about 15% and, holding a
 * second copy of the rule set, costs about 120 MB (bench/results/memory.json), which would break
 * the 300 MB bound a hunt keeps on any input size.
 */
export function chooseHuntThreads(files: readonly { size: number }[], requested: number): number {
  if (requested > 0) return requested;
  const cores = availableParallelism();
  if (cores <= 2) return 1;
  const bytes = files.reduce((n, f) => n + f.size, 0);
  return Math.max(1, Math.min(cores, Math.floor(bytes / BYTES_PER_THREAD)));
}
