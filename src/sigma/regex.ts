import { createRequire } from 'node:module';
import { RuleError } from './errors.js';

/**
 * Regular expressions from rules run on RE2 (linear time, no catastrophic backtracking on hostile
 * input), through the `re2` package. Sigma's flavour is a subset of PCRE that RE2 accepts.
 */
const require = createRequire(import.meta.url);
type RE2Ctor = new (pattern: string, flags?: string) => { test(s: string): boolean };
const RE2 = require('re2') as RE2Ctor;

export class SafeRegex {
  private constructor(private readonly re: { test(s: string): boolean }) {}

  static compile(pattern: string, flags: string): SafeRegex {
    try {
      return new SafeRegex(new RE2(pattern, flags + 'u'));
    } catch (e) {
      throw new RuleError(`regular expression ${JSON.stringify(pattern)} is not supported: ${(e as Error).message}`);
    }
  }

  test(text: string): boolean {
    return this.re.test(text);
  }
}
