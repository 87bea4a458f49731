import { isAbsolute, relative } from 'node:path';

/** Whether `inner` is `outer` or lies under it (both real paths). */
export function isWithin(outer: string, inner: string): boolean {
  const r = relative(outer, inner);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}
