import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full garbage collection on demand. V8 grows its heap freely while a program allocates fast (a
 * hunt allocates an object tree per event), so the resident size drifts far above what is live;
 * collecting every few tens of megabytes of input keeps it near the live size for a few per cent of
 * time, where a hard heap limit would turn a large but legitimate need into a crash.
 */
setFlagsFromString('--expose-gc');
// V8 lets the old generation grow up to several times what survived the last full collection before
// it collects again; a hunt's live set is ~100 MB, so that factor alone would cross the memory bound.
// A heap that grows by a fifth at a time costs a few per cent more collection.
setFlagsFromString(`--heap-growing-percent=${process.env.SPOOR_HEAP_GROWING ?? 20}`);
const gc = runInNewContext('gc') as (() => void) | undefined;

export function collectGarbage(): void {
  gc?.();
}

/** Bytes in the heap's old generation: what only a full collection frees (the young one is scavenged anyway). */
function oldBytes(): number {
  let n = 0;
  for (const s of getHeapSpaceStatistics()) if (s.space_name !== 'new_space' && s.space_name !== 'new_large_object_space') n += s.space_used_size;
  return n;
}

/**
 * Every `every` bytes of input a thread has worked through, collects if the old generation has grown
 * by more than `slack` since the last collection: input that makes much garbage (EVTX, an object tree per
 * event) is collected often, input passed over without objects (most log lines) seldom.
 */
export class GarbagePacer {
  private since = 0;
  private baseline = oldBytes();

  constructor(private readonly every = 12 * 1024 * 1024, private readonly slack = 16 * 1024 * 1024) {}

  add(bytes: number): void {
    this.since += bytes;
    if (this.since < this.every) return;
    this.since = 0;
    if (oldBytes() - this.baseline < this.slack) return;
    collectGarbage();
    this.baseline = oldBytes();
  }
}
