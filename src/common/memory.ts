import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full garbage collection on demand. V8 grows its heap freely while a program allocates fast (a
 * hunt allocates an object tree per event), so the resident size drifts far above what is live;
 * collecting every few tens of megabytes of input keeps it near the live size for a few per cent of
 * time, where a hard heap limit would turn a large but legitimate need into a crash.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (() => void) | undefined;

export function collectGarbage(): void {
  gc?.();
}

/** Collects after every `every` bytes of input a thread has worked through. */
export class GarbagePacer {
  private since = 0;

  constructor(private readonly every = 12 * 1024 * 1024) {}

  add(bytes: number): void {
    this.since += bytes;
    if (this.since >= this.every) {
      this.since = 0;
      collectGarbage();
    }
  }
}
