import { type SigmaString } from './value.js';

/**
 * Literals for the hunt prefilter: a disjunction of lower-cased strings, one of which occurs in the
 * lower-cased text of any event a detection matches; undefined when there is no such guarantee.
 */
export type Literals = string[] | undefined;

/** Literals shorter than this say too little about an event to prefilter on (unless non-ASCII, which is rare in logs). */
export const MIN_LITERAL = 3;

/** The literal lower-cased, if it is worth looking for. */
export function usefulLiteral(text: string): string | undefined {
  return text.length >= MIN_LITERAL || /[^\x00-\x7f]/.test(text) ? text.toLowerCase() : undefined;
}

/**
 * How selective a literal is, roughly: its length, one more if it holds punctuation (`={{` is rarer
 * in logs than `get`, though as long).
 */
const selectivity = (l: string) => l.length + (/[^a-z0-9]/.test(l) ? 1 : 0);

/** The better of two necessary literal sets for an AND: the one whose least selective literal is most selective. */
export function stronger(a: Literals, b: Literals): Literals {
  if (!a) return b;
  if (!b) return a;
  const min = (x: string[]) => Math.min(...x.map(selectivity));
  return min(b) > min(a) || (min(b) === min(a) && b.length < a.length) ? b : a;
}

/**
 * Several necessary literal sets of one detection (each a disjunction that every matching event
 * holds), for a prefilter that picks, on the data at hand, the set that fires least: an AND gives one
 * per part, an OR the unions of one set of each branch. At most MAX_OPTIONS, most selective first.
 */
export type LiteralOptions = string[][];
export const MAX_OPTIONS = 12;

const optionScore = (o: readonly string[]) => Math.min(...o.map(selectivity)) * 64 - o.length;

export function bestOptions(options: Iterable<string[]>): LiteralOptions {
  const seen = new Map<string, string[]>();
  for (const o of options) {
    const sorted = [...new Set(o)].sort();
    if (sorted.length) seen.set(sorted.join('\0'), sorted);
  }
  return [...seen.values()].sort((a, b) => optionScore(b) - optionScore(a)).slice(0, MAX_OPTIONS);
}

/** Options of an OR: each the union of one option of every branch (none if a branch has none). */
export function orOptions(parts: readonly LiteralOptions[]): LiteralOptions {
  if (parts.length === 0 || parts.some((p) => p.length === 0)) return [];
  let combos: string[][] = [[]];
  for (const part of parts) combos = bestOptions(combos.flatMap((c) => part.slice(0, 4).map((o) => [...c, ...o])));
  return combos;
}

/** Literals for an OR: one of each branch's; none if a branch has none. */
export function union(sets: readonly Literals[]): Literals {
  if (sets.length === 0 || sets.some((s) => !s)) return undefined;
  return [...new Set(sets.flat() as string[])];
}

/** The longest literal part of a pattern, lower-cased, if it is worth looking for. */
export function longestLiteral(s: SigmaString): string | undefined {
  let best = '';
  for (const p of s.pieces) if (typeof p === 'string' && p.length > best.length) best = p;
  return usefulLiteral(best);
}

/**
 * Literals a regular expression cannot match without: runs of plain characters that every match
 * contains (within alternations, one per branch). Anything the reader does not follow (classes,
 * optional atoms, look-arounds, back-references) only ends a run, so the answer stays sound: it may
 * be weaker than possible, never wrong. Case does not matter: the prefilter compares lower-cased.
 */
export function regexLiterals(pattern: string): Literals {
  return regexFacts(pattern).literals;
}

/** What every match of a regular expression must have: literals (as `regexLiterals`), and a length in characters. */
export interface RegexFacts {
  literals: Literals;
  /** No match is shorter than this many characters (a lower bound; 0 when unknown). */
  minLength: number;
}

export function regexFacts(pattern: string): RegexFacts {
  const p = new RegexScanner(pattern);
  try {
    const facts = p.alternation();
    return p.done() ? facts : { literals: undefined, minLength: 0 };
  } catch {
    return { literals: undefined, minLength: 0 };
  }
}

const CLASS_ESCAPES = new Set([...'dDwWsShHvVbBAzZGRXKNCpPkg123456789']);
/** Escapes that match a place, or an earlier group's text (a back-reference may be empty), not a character. */
const ZERO_WIDTH_ESCAPES = new Set([...'bBAzZGKkg123456789']);
const CONTROL: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07', e: '\x1b', '0': '\0' };

/** One atom: a character, a group's literals, or something that matches no fixed text; each with the fewest characters it matches. */
type Atom = { char: string } | { group: Literals; minLength: number } | { other: true; minLength: number };

class RegexScanner {
  private i = 0;
  constructor(private readonly s: string) {}

  done(): boolean {
    return this.i === this.s.length;
  }

  alternation(): RegexFacts {
    const branches: RegexFacts[] = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    return { literals: union(branches.map((b) => b.literals)), minLength: Math.min(...branches.map((b) => b.minLength)) };
  }

  private sequence(): RegexFacts {
    let best: Literals;
    let run = '';
    let minLength = 0;
    const endRun = () => {
      const lit = usefulLiteral(run);
      if (lit) best = stronger(best, [lit]);
      run = '';
    };
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const atom = this.atom();
      const min = this.quantifier();
      minLength += ('char' in atom ? 1 : atom.minLength) * (min ?? 1);
      if (min === 0 || 'other' in atom) {
        endRun();
        continue;
      }
      if ('char' in atom) run += atom.char;
      else {
        endRun();
        best = stronger(best, atom.group);
      }
      // A repeated atom is required once; what follows it need not be adjacent to what preceded it.
      if (min !== undefined) endRun();
    }
    endRun();
    return { literals: best, minLength };
  }

  private atom(): Atom {
    const c = this.s[this.i++]!;
    switch (c) {
      case '(': return this.group();
      case '[': this.skipClass(); return { other: true, minLength: 1 };
      case '.': return { other: true, minLength: 1 };
      case '^': case '$': return { other: true, minLength: 0 };
      case '\\': return this.escape();
      case '*': case '+': case '?': case '{': throw new Error('quantifier without an atom');
      default: return { char: c };
    }
  }

  private group(): Atom {
    let lookaround = false;
    if (this.s[this.i] === '?') {
      const rest = this.s.slice(this.i + 1);
      const flags = /^[a-zA-Z-]*\)/.exec(rest);
      if (flags) {
        this.i += 1 + flags[0].length; // (?i): an inline flag, no group
        return { other: true, minLength: 0 };
      }
      const head = /^(:|P?<\w+>|'\w+'|[a-zA-Z-]+:|=|!|<=|<!)/.exec(rest);
      if (!head) throw new Error('unknown group');
      lookaround = ['=', '!', '<=', '<!'].includes(head[0]);
      this.i += 1 + head[0].length;
    }
    const inner = this.alternation();
    if (this.s[this.i++] !== ')') throw new Error('unclosed group');
    return lookaround ? { other: true, minLength: 0 } : { group: inner.literals, minLength: inner.minLength };
  }

  private skipClass(): void {
    if (this.s[this.i] === '^') this.i++;
    if (this.s[this.i] === ']') this.i++;
    while (this.i < this.s.length && this.s[this.i] !== ']') {
      if (this.s[this.i] === '\\') this.i++;
      else if (this.s.startsWith('[:', this.i)) {
        const end = this.s.indexOf(':]', this.i + 2);
        if (end >= 0) this.i = end + 1;
      }
      this.i++;
    }
    if (this.i++ >= this.s.length) throw new Error('unclosed class');
  }

  private escape(): Atom {
    const c = this.s[this.i++];
    if (c === undefined) throw new Error('trailing backslash');
    if (c === 'x' || c === 'u') {
      const m = /^\{([0-9a-fA-F]+)\}|^([0-9a-fA-F]{2,4})/.exec(this.s.slice(this.i));
      if (!m) return { other: true, minLength: 0 };
      const hex = m[1] ?? m[2]!.slice(0, c === 'x' ? 2 : 4);
      this.i += m[1] !== undefined ? m[0].length : hex.length;
      return { char: String.fromCodePoint(parseInt(hex, 16)) };
    }
    if (c in CONTROL) return { char: CONTROL[c]! };
    if (c === 'p' || c === 'P') {
      if (this.s[this.i] === '{') this.i = this.s.indexOf('}', this.i) + 1 || this.s.length;
      else this.i++;
      return { other: true, minLength: 1 };
    }
    if (c === 'Q') {
      const end = this.s.indexOf('\\E', this.i);
      const text = this.s.slice(this.i, end < 0 ? undefined : end);
      this.i = end < 0 ? this.s.length : end + 2;
      // Quoted text is one atom; a following quantifier would apply to its last character only.
      return text.length ? { group: usefulLiteral(text.slice(0, -1)) ? [text.slice(0, -1).toLowerCase()] : undefined, minLength: text.length } : { other: true, minLength: 0 };
    }
    if (CLASS_ESCAPES.has(c) || /[a-zA-Z]/.test(c)) return { other: true, minLength: CLASS_ESCAPES.has(c) && !ZERO_WIDTH_ESCAPES.has(c) && c !== 'C' ? 1 : 0 };
    return { char: c };
  }

  /** The quantifier after an atom: its minimum count, or undefined when there is none. */
  private quantifier(): number | undefined {
    const c = this.s[this.i];
    let min: number | undefined;
    if (c === '*' || c === '?') {
      this.i++;
      min = 0;
    } else if (c === '+') {
      this.i++;
      min = 1;
    } else if (c === '{') {
      const m = /^\{(\d*)(,\d*)?\}/.exec(this.s.slice(this.i));
      if (!m) return undefined; // a literal brace
      this.i += m[0].length;
      min = m[1] ? Number(m[1]) : 0;
    } else return undefined;
    if (this.s[this.i] === '?' || this.s[this.i] === '+') this.i++; // lazy or possessive
    return min;
  }
}
