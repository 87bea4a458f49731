import { createRequire } from 'node:module';
import { RuleError } from './errors.js';

/**
 * Regular expressions from rules run on RE2 (linear time, no catastrophic backtracking on hostile
 * input), through the `re2` package. Sigma's flavour is a subset of PCRE that RE2 accepts.
 */
const require = createRequire(import.meta.url);
type RE2Ctor = new (pattern: string, flags?: string) => { test(s: string): boolean };
const RE2 = require('re2') as RE2Ctor;

/** `.` repeated: `.{n}`, `.{n,}` or `.{n,m}`, the whole pattern (rules that flag long command lines). */
const DOT_REPEAT = /^\.\{(\d+)(?:,(\d*))?\}$/;

export class SafeRegex {
  private constructor(private readonly re: { test(s: string): boolean }) {}

  static compile(pattern: string, flags: string): SafeRegex {
    // RE2 unrolls a counted repetition into that many states: `.{1000,}` makes its automaton give up
    // and fall back to a slow simulation, 20-30 ms per test of a long command line. Unanchored, such
    // a pattern only asks for a run of n characters that `.` takes, which a scan answers.
    const dots = DOT_REPEAT.exec(pattern);
    if (dots) {
      const min = Number(dots[1]);
      if (dots[2] === undefined || dots[2] === '' || Number(dots[2]) >= min) return new SafeRegex(new DotRun(min, flags.includes('s')));
    }
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

/** Whether a text holds n code points in a row that `.` matches (any, with the `s` flag; all but a line feed, as in RE2, without). */
class DotRun {
  constructor(private readonly min: number, private readonly dotAll: boolean) {}

  test(text: string): boolean {
    const min = this.min;
    if (min === 0) return true;
    if (text.length < min) return false;
    let run = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 && !this.dotAll) run = 0;
      // The low half of a surrogate pair is the same code point as the high half before it.
      else if (!(c >= 0xdc00 && c <= 0xdfff && i > 0 && isHighSurrogate(text.charCodeAt(i - 1))) && ++run >= min) return true;
    }
    return false;
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
