import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { loadYaraBinding, type YaraScanner } from './yara-binding.js';

/** Files larger than this are not scanned (web shells and configs are small; a scan must not read disks whole into memory). */
export const MAX_YARA_FILE_BYTES = 64 * 1024 * 1024;

/** The external variables LOKI and THOR define, which many public rules (signature-base's) use. */
const EXTERNALS = { filename: '', filepath: '', extension: '', filetype: '', owner: '' };

export interface YaraMatch {
  rule: string;
  /** The rule file it came from. */
  source: string;
  tags: string[];
  meta: Record<string, unknown>;
  /** The first strings that matched, as identifier and text. */
  strings: string[];
}

export interface YaraRules {
  files: number;
  rules: { source: string; scanner: YaraScanner }[];
  scan(file: string): YaraMatch[];
}

/**
 * Compiles YARA rule files with YARA-X, each on its own (one bad file is reported by its name and line,
 * the others still scan; rule names may repeat across files). YARA-X matches in time linear in the
 * data (no backtracking), so a hostile rule can slow a scan but not stall it; files are size-bounded.
 */
export function loadYaraRules(files: readonly string[], onProblem: (file: string, message: string) => void): YaraRules | undefined {
  const yara = loadYaraBinding();
  if (yara instanceof Error) {
    onProblem('(yara)', `YARA-X is not available: ${yara.message}`);
    return undefined;
  }
  const rules: YaraRules['rules'] = [];
  for (const file of files) {
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (e) {
      onProblem(file, (e as Error).message);
      continue;
    }
    const options = { defineVariables: EXTERNALS, errorOnSlowPattern: false, errorOnSlowLoop: false };
    const checked = yara.validate(source, options);
    if (checked.errors.length) {
      for (const err of checked.errors.slice(0, 5)) onProblem(`${file}${err.line ? `:${err.line}` : ''}`, err.message.split('\n')[0]!);
      continue;
    }
    try {
      rules.push({ source: file, scanner: yara.compile(source, options) });
    } catch (e) {
      onProblem(file, (e as Error).message.split('\n')[0]!);
    }
  }
  return {
    files: rules.length,
    rules,
    scan(file: string): YaraMatch[] {
      if (statSync(file).size > MAX_YARA_FILE_BYTES) return [];
      const data = readFileSync(file);
      const vars = { filename: basename(file), filepath: file, extension: extname(file), filetype: '', owner: '' };
      return rules.flatMap(({ source, scanner }) =>
        scanner.scan(data, vars).map((m) => ({
          rule: m.ruleIdentifier,
          source: basename(source),
          tags: m.tags,
          meta: m.meta,
          strings: m.matches.slice(0, 3).map((s) => `${s.identifier}: ${s.data.slice(0, 80)}`),
        })));
    },
  };
}
