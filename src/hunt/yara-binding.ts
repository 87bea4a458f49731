import { createRequire } from 'node:module';

/**
 * YARA-X through the native module of `@litko/yara-x` (its Linux x64 build, `@litko/yara-x-linux-x64-gnu`,
 * an optional dependency). Spoor loads the module itself rather than through `@litko/yara-x`, whose
 * loader lists macOS builds as dependencies that the registry here does not serve, which makes
 * `npm ci` refuse the lock file. Only the calls Spoor makes are declared.
 */
export interface YaraCompilerOptions {
  defineVariables?: Record<string, string>;
  errorOnSlowPattern?: boolean;
  errorOnSlowLoop?: boolean;
}

export interface YaraMessage {
  code: string;
  message: string;
  line?: number;
}

export interface YaraRuleMatch {
  ruleIdentifier: string;
  namespace: string;
  meta: Record<string, unknown>;
  tags: string[];
  matches: { offset: number; length: number; data: string; identifier: string }[];
}

export interface YaraScanner {
  scan(data: Buffer, variables?: Record<string, string | number>): YaraRuleMatch[];
}

export interface YaraBinding {
  validate(source: string, options?: YaraCompilerOptions): { warnings: YaraMessage[]; errors: YaraMessage[] };
  compile(source: string, options?: YaraCompilerOptions): YaraScanner;
}

/** The binding, or why it cannot be had on this machine. */
export function loadYaraBinding(): YaraBinding | Error {
  if (process.platform !== 'linux' || process.arch !== 'x64') return new Error(`YARA-X is built here for Linux x64 only, not ${process.platform} ${process.arch}`);
  try {
    return createRequire(import.meta.url)('@litko/yara-x-linux-x64-gnu') as YaraBinding;
  } catch (e) {
    return e as Error;
  }
}
