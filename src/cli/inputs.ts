import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import picomatch from 'picomatch';
import { isWithin } from '../common/within.js';

export interface InputFile {
  path: string;
  size: number;
  /** How output names the file, when not by its path (an archive's entry). */
  name?: string;
}

export interface Inputs {
  files: InputFile[];
  /** Paths that do not exist or cannot be listed, with the reason. */
  errors: string[];
}

/**
 * Globs a directory walk keeps and leaves (`--include '*.evtx' --exclude '**\/Temp/**'`), matched
 * against each file's path below the directory given; a pattern without a slash matches the name.
 */
export function globFilter(include: readonly string[] | undefined, exclude: readonly string[] | undefined): ((relative: string) => boolean) | undefined {
  if (!include?.length && !exclude?.length) return undefined;
  const matcher = (globs: readonly string[]) => {
    // picomatch's own basename option also applies to patterns with slashes, so split them here.
    const options = { dot: true, nocase: true };
    const byName = globs.filter((g) => !g.includes('/'));
    const byPath = globs.filter((g) => g.includes('/'));
    const name = byName.length ? picomatch(byName, options) : () => false;
    const path = byPath.length ? picomatch(byPath, options) : () => false;
    return (relative: string) => name(relative.slice(relative.lastIndexOf('/') + 1)) || path(relative);
  };
  const keep = include?.length ? matcher(include) : () => true;
  const drop = exclude?.length ? matcher(exclude) : () => false;
  return (relative) => keep(relative) && !drop(relative);
}

/**
 * Expands the paths given on the command line: files are taken as they are, directories are walked
 * recursively for files that `wanted` accepts (given the path) and `filter` keeps (given the path
 * below the directory). Order is stable (sorted within each directory).
 */
export function collectInputs(paths: readonly string[], wanted: (name: string) => boolean, filter?: (relative: string) => boolean, within?: readonly string[]): Inputs {
  const files: InputFile[] = [];
  const errors: string[] = [];
  // Directories by device and inode: a link back up the tree (collections copied with their links) is walked once.
  const seen = new Set<string>();
  const roots = within?.flatMap((r) => {
    try {
      return [realpathSync(r)];
    } catch {
      return []; // a folder that is not there holds nothing a link could reach
    }
  });
  const visit = (path: string, explicit: boolean, root: string): void => {
    // With `within`, a symbolic link found in a folder is followed only to a place inside those folders.
    if (roots && !explicit && lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) {
      let real: string;
      try {
        real = realpathSync(path);
      } catch {
        return void errors.push(`${path}: a symbolic link to nothing; skipped`);
      }
      if (!roots.some((r) => isWithin(r, real))) return void errors.push(`${path}: a symbolic link out of the folders allowed (--within); skipped`);
    }
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      errors.push(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
      return;
    }
    if (st.isDirectory()) {
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) return;
      seen.add(id);
      let names: string[];
      try {
        names = readdirSync(path).sort();
      } catch (e) {
        errors.push(`${path}: ${(e as Error).message}`);
        return;
      }
      for (const name of names) visit(join(path, name), false, explicit ? path : root);
    } else if (st.isFile() && (explicit || (wanted(path) && (!filter || filter(relative(root, path).split(sep).join('/')))))) {
      files.push({ path, size: st.size });
    }
  };
  for (const p of paths) visit(p, true, p);
  return { files, errors };
}

export const isEvtxName = (name: string): boolean => name.toLowerCase().endsWith('.evtx');
