/**
 * A Sigma string value that knows its wildcards: `*` (any run) and `?` (one character), with `\`
 * escaping them and itself as the specification says. Values are never plain strings here.
 */
export type Piece = string | typeof STAR | typeof ONE;
export const STAR = Symbol('*');
export const ONE = Symbol('?');

export class SigmaString {
  readonly pieces: readonly Piece[];

  /** Adjacent literals are joined and empty ones dropped, so matching sees each literal once. */
  constructor(pieces: readonly Piece[]) {
    const out: Piece[] = [];
    for (const p of pieces) {
      if (p === '') continue;
      const last = out[out.length - 1];
      if (typeof p === 'string' && typeof last === 'string') out[out.length - 1] = last + p;
      else out.push(p);
    }
    this.pieces = out;
  }

  /** Parses rule text: `*` and `?` are wildcards unless escaped; `\\` before a wildcard is a backslash. */
  static parse(text: string): SigmaString {
    const pieces: Piece[] = [];
    let literal = '';
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\\') {
        const next = text[i + 1];
        if (next === '*' || next === '?' || next === '\\') {
          literal += next;
          i++;
        } else literal += c;
      } else if (c === '*' || c === '?') {
        if (literal) pieces.push(literal);
        literal = '';
        pieces.push(c === '*' ? STAR : ONE);
      } else literal += c;
    }
    if (literal) pieces.push(literal);
    return new SigmaString(pieces);
  }

  static literal(text: string): SigmaString {
    return new SigmaString(text ? [text] : []);
  }

  get hasWildcards(): boolean {
    return this.pieces.some((p) => typeof p !== 'string');
  }

  /** The text with no wildcards, or undefined if it has any. */
  get plain(): string | undefined {
    return this.hasWildcards ? undefined : this.pieces.join('');
  }

  startsWithStar(): boolean {
    return this.pieces[0] === STAR;
  }

  endsWithStar(): boolean {
    return this.pieces[this.pieces.length - 1] === STAR;
  }

  prepend(p: Piece): SigmaString {
    return new SigmaString([p, ...this.pieces]);
  }

  append(p: Piece): SigmaString {
    return new SigmaString([...this.pieces, p]);
  }

  /** Maps the literal text, keeping wildcards where they are. */
  mapText(f: (s: string) => string): SigmaString {
    return new SigmaString(this.pieces.map((p) => (typeof p === 'string' ? f(p) : p)));
  }

  toString(): string {
    return this.pieces.map((p) => (p === STAR ? '*' : p === ONE ? '?' : p.replace(/[\\*?]/g, '\\$&'))).join('');
  }
}

/**
 * Glob match in O(n·m) at worst, with no backtracking blow-up whatever the pattern: `*` remembers
 * only its last position. Both sides are compared as given (the caller lower-cases for
 * case-insensitive matching).
 */
export function globMatch(pieces: readonly Piece[], text: string): boolean {
  // Flatten literals to characters once per call site would be faster; patterns are small.
  let p = 0; // index into pieces
  let off = 0; // offset inside the literal piece pieces[p]
  let t = 0;
  let starP = -1;
  let starT = -1;
  while (t < text.length) {
    const piece = pieces[p];
    if (piece === STAR) {
      starP = p++;
      off = 0;
      starT = t;
      continue;
    }
    if (piece === ONE) {
      p++;
      t++;
      continue;
    }
    if (typeof piece === 'string' && piece[off] === text[t]) {
      off++;
      t++;
      if (off === piece.length) {
        p++;
        off = 0;
      }
      continue;
    }
    if (starP < 0) return false;
    // Let the last star take one more character and retry from just after it.
    p = starP + 1;
    off = 0;
    t = ++starT;
  }
  while (pieces[p] === STAR) p++;
  return p === pieces.length && off === 0;
}
