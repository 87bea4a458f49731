import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sniff } from '../hunt/hunt.js';
import { unpackZip } from '../evidence/zip.js';
import type { InputFile } from './inputs.js';

/**
 * Inputs with zip archives replaced by their entries, unpacked (streaming, within limits) into a
 * temporary folder that `cleanup` removes. Entries are named `archive.zip!path/in/archive`.
 */
export function expandArchives(files: readonly InputFile[], onProblem: (message: string) => void): { files: (InputFile & { name?: string })[]; cleanup: () => void } {
  let dir: string | undefined;
  const out: (InputFile & { name?: string })[] = [];
  files.forEach((f, i) => {
    if (sniff(f.path) !== 'zip') return void out.push(f);
    dir ??= mkdtempSync(join(tmpdir(), 'spoor-unzip-'));
    for (const e of unpackZip(f.path, join(dir, String(i)), onProblem)) out.push({ path: e.path, size: e.size, name: e.name });
  });
  return { files: out, cleanup: () => dir && rmSync(dir, { recursive: true, force: true }) };
}
