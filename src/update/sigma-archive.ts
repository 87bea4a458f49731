import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { unzipSync } from 'fflate';

/** Limits against hostile archives (zip bombs, path tricks). */
const MAX_ENTRIES = 50_000;
const MAX_TOTAL_BYTES = 512 * 1024 * 1024;
const MAX_RATIO = 200;

export class ArchiveError extends Error {}

/**
 * Writes the Sigma rule files (`*.yml`, `*.yaml`, and LICENSE/README texts) of a SigmaHQ release
 * archive under `dir`, keeping the `rules*` folders whatever prefix the archive puts before them.
 * Refuses entries that would land outside `dir`, too many entries, and sizes or compression ratios
 * that only a zip bomb has. Returns how many rule files were written.
 */
export function extractSigmaArchive(zip: Uint8Array, dir: string): number {
  let entries = 0;
  let total = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      filter: (f) => {
        if (++entries > MAX_ENTRIES) throw new ArchiveError(`more than ${MAX_ENTRIES} entries`);
        if (!keep(f.name)) return false;
        total += f.originalSize;
        if (total > MAX_TOTAL_BYTES) throw new ArchiveError(`more than ${MAX_TOTAL_BYTES} bytes unpacked`);
        if (f.originalSize > 1024 * 1024 && f.originalSize > f.size * MAX_RATIO) throw new ArchiveError(`${f.name}: compressed ${MAX_RATIO} times or more`);
        return true;
      },
    });
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`not a readable zip archive (${(e as Error).message})`);
  }
  let rules = 0;
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith('/')) continue;
    const rel = relativeRulePath(name);
    if (!rel) continue;
    const target = join(dir, rel);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
    if (/\.ya?ml$/i.test(rel)) rules++;
  }
  return rules;
}

function keep(name: string): boolean {
  return relativeRulePath(name) !== undefined;
}

/** The path below the archive's `rules*` folder (or LICENSE), normalised; undefined for anything else or anything unsafe. */
function relativeRulePath(name: string): string | undefined {
  const norm = posix.normalize(name.replace(/\\/g, '/'));
  if (norm.startsWith('/') || norm.split('/').includes('..') || /^[a-zA-Z]:/.test(norm)) return undefined;
  const parts = norm.split('/');
  const at = parts.findIndex((p) => /^rules(-[\w-]+)?$/.test(p));
  if (at >= 0 && at < parts.length - 1 && /\.(ya?ml|md|txt)$/i.test(norm)) return parts.slice(at).join('/');
  const last = parts[parts.length - 1]!;
  if (/^(LICENSE|LICENSE\.\w+|Detection\.Rule\.License\.md)$/i.test(last) && parts.length <= 2) return last;
  return undefined;
}
