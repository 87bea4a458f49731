import { closeSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { Unzip, UnzipInflate } from 'fflate';

/** Limits against zip bombs: what one archive may unpack to, in entries, bytes and compression ratio. */
export interface ZipLimits {
  maxEntries: number;
  maxBytes: number;
  maxRatio: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = { maxEntries: 100_000, maxBytes: 64 * 1024 ** 3, maxRatio: 200 };

export interface Unpacked {
  /** Where the entry was written. */
  path: string;
  /** How to name it: archive!entry. */
  name: string;
  size: number;
}

/**
 * Unpacks a zip archive into `dir`, streaming: the archive is read a block at a time and each entry
 * written as it inflates, so neither the archive nor an entry is ever held whole. Entries whose
 * names would land outside `dir` are skipped; passing a limit stops the unpacking with an error
 * (what was written so far stays, for the caller to use or discard). Nested archives are not opened.
 */
export function unpackZip(archive: string, dir: string, onProblem: (message: string) => void, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Unpacked[] {
  const out: Unpacked[] = [];
  let total = 0;
  let compressedRead = 0;
  let failure: string | undefined;
  const open = new Set<number>();
  const close = (fd: number) => {
    if (open.delete(fd)) closeSync(fd);
  };
  const unzip = new Unzip((file) => {
    if (failure) return;
    if (out.length >= limits.maxEntries) {
      failure = `more than ${limits.maxEntries} entries`;
      return;
    }
    const rel = safeName(file.name);
    if (!rel) {
      if (!file.name.endsWith('/')) onProblem(`${archive}!${file.name}: a name that would leave the folder; skipped`);
      return;
    }
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'w');
    open.add(fd);
    const entry: Unpacked = { path, name: `${archive}!${rel}`, size: 0 };
    out.push(entry);
    file.ondata = (err, chunk, final) => {
      if (err) {
        onProblem(`${entry.name}: ${err.message}`);
        close(fd);
        return;
      }
      if (failure) return;
      entry.size += chunk.length;
      total += chunk.length;
      if (total > limits.maxBytes) failure = `unpacks to more than ${limits.maxBytes} bytes`;
      else if (total > 64 * 1024 * 1024 && total > compressedRead * limits.maxRatio) failure = `compressed more than ${limits.maxRatio} times: a zip bomb`;
      else writeSync(fd, chunk);
      if (final || failure) close(fd);
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  const fd = openSync(archive, 'r');
  try {
    const buf = Buffer.alloc(1024 * 1024);
    for (let pos = 0; !failure; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      pos += n;
      compressedRead += n;
      unzip.push(buf.subarray(0, n), n === 0);
      if (n === 0) break;
    }
  } catch (e) {
    failure ??= `not a readable zip archive (${(e as Error).message})`;
  } finally {
    closeSync(fd);
    for (const f of open) closeSync(f);
  }
  if (failure) onProblem(`${archive}: ${failure}; unpacking stopped`);
  return out;
}

function safeName(name: string): string | undefined {
  const norm = posix.normalize(name.replace(/\\/g, '/'));
  if (norm.endsWith('/') || norm.startsWith('/') || norm === '.' || norm.split('/').includes('..') || /^[a-zA-Z]:/.test(norm)) return undefined;
  return norm;
}
