import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
 * Expands the paths given on the command line: files are taken as they are, directories are walked
 * recursively for files that `wanted` accepts. Order is stable (sorted within each directory).
 */
export function collectInputs(paths: readonly string[], wanted: (name: string) => boolean): Inputs {
  const files: InputFile[] = [];
  const errors: string[] = [];
  const visit = (path: string, explicit: boolean): void => {
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      errors.push(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
      return;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(path).sort();
      } catch (e) {
        errors.push(`${path}: ${(e as Error).message}`);
        return;
      }
      for (const name of names) visit(join(path, name), false);
    } else if (st.isFile() && (explicit || wanted(path))) {
      files.push({ path, size: st.size });
    }
  };
  for (const p of paths) visit(p, true);
  return { files, errors };
}

export const isEvtxName = (name: string): boolean => name.toLowerCase().endsWith('.evtx');
