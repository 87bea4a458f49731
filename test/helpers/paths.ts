import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/…). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Shared test data beside the repository: ../shared/data. */
export const DATA = resolve(ROOT, '../shared/data');
export const SPOOR = join(ROOT, 'bin/spoor.js');

export function listFiles(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p, ext));
    else if (name.toLowerCase().endsWith(ext)) out.push(p);
  }
  return out;
}

// Tests never read or write the user's data directory: each test process gets its own.
if (!process.env.SPOOR_HOME) {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  process.env.SPOOR_HOME = mkdtempSync(join(tmpdir(), 'spoor-home-'));
}
