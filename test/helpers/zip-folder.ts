import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';

/** A folder's files zipped under `prefix` (`exch01/…`), as a collection tool would hand it over. */
export function zipFolder(dir: string, prefix: string): Buffer {
  const files: Record<string, Uint8Array> = {};
  const walk = (d: string, rel: string) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(join(d, e.name), `${rel}${e.name}/`) : (files[`${rel}${e.name}`] = readFileSync(join(d, e.name)))));
  walk(dir, prefix);
  return Buffer.from(zipSync(files, { level: 9 }));
}
