import { closeSync, openSync, readSync } from 'node:fs';

/** The first bytes of a file (fewer if it is shorter), or undefined when it cannot be read. */
export function readHead(file: string, bytes: number): Buffer | undefined {
  const head = Buffer.allocUnsafe(bytes);
  try {
    const fd = openSync(file, 'r');
    try {
      return head.subarray(0, readSync(fd, head, 0, bytes, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}
