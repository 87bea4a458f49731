import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import { spoorHome } from '../common/home.js';
import { readRuleFile, type RuleProblem, type SigmaRule } from './rule.js';

/**
 * Parsed rule files, kept between runs: reading ~3,800 YAML files costs seconds, reading their parsed
 * form back costs a tenth of that. An entry serves only while its file keeps its size and mtime.
 * `SPOOR_NO_CACHE=1` turns it off.
 */
interface Entry {
  size: number;
  mtimeMs: number;
  rules: (Omit<SigmaRule, 'keyLines'> & { keyLines: [string, number][] })[];
  problems: RuleProblem[];
  /** What compiling the file's rules against one pipeline found (the last pipeline used). */
  checked?: { key: string; checks: (RuleCheck | null)[] };
}

/**
 * What compiling a rule found, so that a later run can trust it and compile the rule only when an
 * event first needs it: the error that kept it out, or each alternative's prefilter literals.
 */
export interface RuleCheck {
  error?: { line: number; reason: string };
  literals?: (string[] | null)[];
  literalOptions?: string[][][];
}

/** Bumped whenever the parsed rule model changes, so that old entries are not read back. */
const VERSION = 3;
const MAX_BYTES = 128 * 1024 * 1024;

export class RuleFileCache {
  private entries: Record<string, Entry> = {};
  private dirty = false;
  private readonly path: string;

  constructor(path = join(spoorHome(), 'cache', 'rules.json')) {
    this.path = path;
    try {
      if (statSync(path).size > MAX_BYTES) return;
      const data = JSON.parse(readFileSync(path, 'utf8')) as { version: number; entries: Record<string, Entry> };
      if (data.version === VERSION) this.entries = data.entries;
    } catch {
      // No cache yet, or an unreadable one: start afresh.
    }
  }

  /** The file's rules, parsed; with `checkKey`, also what compiling them under that key found, if known. */
  read(file: string, checkKey?: string): { rules: SigmaRule[]; problems: RuleProblem[]; checks?: (RuleCheck | null)[] } {
    const key = resolve(file);
    let st;
    try {
      st = statSync(file);
    } catch {
      return readRuleFile(file);
    }
    const hit = this.entries[key];
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) {
      return {
        rules: hit.rules.map((r) => ({ ...r, file, keyLines: new Map(r.keyLines) })),
        problems: hit.problems.map((p) => ({ ...p, file })),
        checks: checkKey !== undefined && hit.checked?.key === checkKey ? hit.checked.checks : undefined,
      };
    }
    const read = readRuleFile(file);
    this.entries[key] = { size: st.size, mtimeMs: st.mtimeMs, rules: read.rules.map((r) => ({ ...r, keyLines: [...r.keyLines] })), problems: read.problems };
    this.dirty = true;
    return read;
  }

  /** Remembers what compiling a file's rules under a key found (for the entry `read` made). */
  recordChecks(file: string, checkKey: string, checks: (RuleCheck | null)[]): void {
    const entry = this.entries[resolve(file)];
    if (!entry) return;
    entry.checked = { key: checkKey, checks };
    this.dirty = true;
  }

  /** Writes the cache back if it changed (atomically; a failure only costs the next run time). */
  save(): void {
    if (!this.dirty) return;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      // Worker threads share the pid: each writes its own temporary file.
      const tmp = `${this.path}.${process.pid}.${threadId}.tmp`;
      writeFileSync(tmp, JSON.stringify({ version: VERSION, entries: this.entries }));
      renameSync(tmp, this.path);
      this.dirty = false;
    } catch {
      // A read-only home: run without a cache.
    }
  }
}
