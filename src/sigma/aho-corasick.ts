import { commonPrefixLength } from './common-prefix.js';
import { lower } from './fold.js';
import { TailTrie, tailGroups } from './tail-trie.js';

/**
 * Aho-Corasick: finds which of many literals occur in a text in one pass over it. The hunt engine's
 * prefilter runs every rule's literals through one automaton per event value, so the automaton is a
 * complete DFA in one typed array: a state's row holds the next state for each character class (the
 * literals' distinct characters, ~80 for SigmaHQ, plus one class for every other character), and a
 * step is two array reads. Literals are lower-case; ASCII text is folded through the class table,
 * other text is lower-cased first so that matching agrees with the rules' own lower-casing.
 */
/** Non-ASCII characters share this many classes, by code: a DFA row per character of every script would not fit. */
const NON_ASCII_CLASSES = 16;

/**
 * An automaton's tables, to hand to another thread: the large one is in shared memory, so threads
 * hunting with the same rules hold one copy. `literals` and `chars` tell whether it was built from
 * the same literals.
 */
export interface AutomatonTables {
  literals: number;
  chars: number;
  /** The length literals were cut to in the trie (0: whole). */
  prefix: number;
  asciiClass: Uint8Array;
  firstOther: number;
  classes: number;
  delta: Uint16Array | Int32Array;
  outStart: Int32Array;
  outIds: Int32Array;
}

/** Where automatons are kept between runs, by the literals they were built from. */
export interface AutomatonStore {
  load(literals: readonly string[], prefix?: number): AutomatonTables | undefined;
  save(literals: readonly string[], tables: AutomatonTables): void;
}

/**
 * Whether tables from outside (a file) can be searched with safely: built for as many literals of as
 * many characters, and every state, class and literal id they hold in range, so that a search can
 * neither read outside them nor report a literal that does not exist.
 */
export function automatonTablesAreSound(t: AutomatonTables, literals: readonly string[], prefix = 0): boolean {
  if (!builtFrom(t, literals, prefix)) return false;
  if (t.classes !== t.firstOther + NON_ASCII_CLASSES || t.firstOther < 1 || t.asciiClass.length !== 128) return false;
  for (const c of t.asciiClass) if (c >= t.firstOther) return false;
  const states = t.outStart.length - 1;
  if (states < 1 || t.delta.length !== states * t.classes || t.outStart[0] !== 0 || t.outStart[states] !== t.outIds.length) return false;
  for (let s = 0; s < states; s++) if (t.outStart[s + 1]! < t.outStart[s]!) return false;
  const { delta, outIds } = t;
  for (let i = 0; i < delta.length; i++) if (delta[i]! >= states || delta[i]! < 0) return false;
  const ends = literals.length + (prefix > 0 ? tailGroups(literals, prefix) : 0);
  for (let i = 0; i < outIds.length; i++) if (outIds[i]! >= ends || outIds[i]! < 0) return false;
  return true;
}

export class AhoCorasick {
  /** Character class of each ASCII code unit (upper case folded onto lower); 0: in no literal. */
  private readonly asciiClass: Uint8Array = new Uint8Array(128);
  /** The first of the classes non-ASCII characters share (two that share one may be taken for each other: the prefilter then passes a few more events, never fewer). */
  private readonly firstOther: number;
  private readonly classes: number;
  private readonly delta: Uint16Array | Int32Array;
  /** Literal ids ending at each state (with those reached through failure links): outIds[outStart[s] .. outStart[s+1]). */
  private readonly outStart: Int32Array;
  private readonly outIds: Int32Array;

  /**
   * With a prefix length, the automaton holds each literal's first `prefix` characters; where the
   * prefix of longer literals ends it reports their group (numbered from the literals' count on),
   * whose tails are then walked: the table stays the size of the short prefixes' while a hit still
   * means the whole literal occurs.
   */
  private readonly tails: TailTrie | undefined;

  /** Whether the tables were built here rather than taken from another thread or a file. */
  readonly built: boolean = true;

  /**
   * Built from the literals (cut to `prefix` characters in the trie, tails compared on a hit; 0: whole
   * literals), or taken from tables another thread built the same way from the same literals
   * (undefined when they are not).
   */
  constructor(private readonly literals: readonly string[], tables?: AutomatonTables, private readonly prefix = 0) {
    this.tails = prefix > 0 ? new TailTrie(literals, prefix) : undefined;
    if (tables && builtFrom(tables, literals, prefix)) {
      ({ asciiClass: this.asciiClass, firstOther: this.firstOther, classes: this.classes, delta: this.delta, outStart: this.outStart, outIds: this.outIds } = tables);
      this.built = false;
      return;
    }
    let classes = 1;
    for (const lit of literals) {
      for (let i = 0; i < lit.length; i++) {
        const c = lit.charCodeAt(i);
        if (c < 128 && this.asciiClass[c] === 0) this.asciiClass[c] = classes++;
      }
    }
    for (let c = 65; c <= 90; c++) this.asciiClass[c] = this.asciiClass[c + 32]!;
    this.firstOther = classes;
    this.classes = classes + NON_ASCII_CLASSES;
    const inTrie = prefix > 0 ? literals.map((l) => l.slice(0, prefix)) : literals;
    const states = countStates(inTrie);
    const K = this.classes;
    const cells = new SharedArrayBuffer(states * K * (states < 65536 ? 2 : 4));
    const delta = (this.delta = states < 65536 ? new Uint16Array(cells) : new Int32Array(cells));
    const ends: number[][] = Array.from({ length: states }, () => []);
    let next = 1;
    inTrie.forEach((lit, id) => {
      let s = 0;
      for (let i = 0; i < lit.length; i++) {
        const cell = s * K + this.classOf(lit.charCodeAt(i));
        if (delta[cell] === 0) delta[cell] = next++;
        s = delta[cell]!;
      }
      const group = this.tails?.group(id) ?? -1;
      if (group < 0) ends[s]!.push(id);
      else if (!ends[s]!.includes(literals.length + group)) ends[s]!.push(literals.length + group);
    });
    // Breadth-first: a state's row is completed from its failure state's row, which is shallower
    // and therefore already complete; until then the row holds only the trie's own children.
    const fail = new Int32Array(states);
    const queue = new Int32Array(states);
    let tail = 0;
    for (let k = 0; k < K; k++) if (delta[k] !== 0) queue[tail++] = delta[k]!;
    for (let head = 0; head < tail; head++) {
      const s = queue[head]!;
      const f = fail[s]!;
      if (ends[f]!.length) ends[s] = ends[s]!.concat(ends[f]!);
      for (let k = 0; k < K; k++) {
        const child = delta[s * K + k]!;
        if (child !== 0) {
          fail[child] = delta[f * K + k]!;
          queue[tail++] = child;
        } else delta[s * K + k] = delta[f * K + k]!;
      }
    }
    this.outStart = new Int32Array(states + 1);
    for (let s = 0; s < states; s++) this.outStart[s + 1] = this.outStart[s]! + ends[s]!.length;
    this.outIds = Int32Array.from(ends.flat());
  }

  /** The tables, for another thread's automaton over the same literals. */
  tables(): AutomatonTables {
    const { asciiClass, firstOther, classes, delta, outStart, outIds } = this;
    return { literals: this.literals.length, chars: charCount(this.literals), prefix: this.prefix, asciiClass, firstOther, classes, delta, outStart, outIds };
  }

  /** The class of a character of a (lower-case) literal. */
  private classOf(c: number): number {
    return c < 128 ? this.asciiClass[c]! : this.firstOther + (c % NON_ASCII_CLASSES);
  }

  /** Calls `found` with the id of each literal occurring in text, case-insensitively (possibly more than once). */
  search(text: string, found: (id: number) => void): void {
    const { asciiClass, delta, outStart, outIds, classes, tails, literals } = this;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128) {
        this.searchFolded(lower(text), found);
        return;
      }
      s = delta[s * classes + asciiClass[c]!]!;
      const end = outStart[s + 1]!;
      for (let k = outStart[s]!; k < end; k++) {
        const id = outIds[k]!;
        if (id < literals.length) found(id);
        else tails!.walk(text, i + 1, id - literals.length, found);
      }
    }
  }

  /**
   * Whether text holds one of the literals exactly, as `includes` finds it: the automaton proposes
   * (over prefixes, with their tails walked), `includes` confirms (the automaton ignores case and lets
   * rare characters share a class). Its own loop: a call site shared with the rule index's callback
   * would stop V8 from inlining either.
   */
  holdsExactly(text: string): boolean {
    const { asciiClass, delta, outStart, outIds, classes, literals, tails } = this;
    // The confirming callback is made only where a tail is walked or the text is not ASCII: most values pass without one.
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128) return this.searchFolded(lower(text), (id) => text.includes(literals[id]!));
      s = delta[s * classes + asciiClass[c]!]!;
      const end = outStart[s + 1]!;
      for (let k = outStart[s]!; k < end; k++) {
        const id = outIds[k]!;
        if (id < literals.length ? text.includes(literals[id]!) : tails!.walk(text, i + 1, id - literals.length, (x) => text.includes(literals[x]!))) return true;
      }
    }
    return false;
  }

  /** Calls `found` with the position of the last character of each occurrence in ASCII text from `from` on (case-insensitively). */
  positions(text: string, from: number, found: (end: number) => void): void {
    this.wholeLiteralsOnly();
    const { asciiClass, delta, outStart, classes } = this;
    let s = 0;
    for (let i = from; i < text.length; i++) {
      s = delta[s * classes + asciiClass[text.charCodeAt(i) & 127]!]!;
      if (outStart[s + 1]! > outStart[s]!) found(i);
    }
  }

  /** Whether any literal occurs in text (case-insensitively): the search, stopping at the first. */
  occursIn(text: string): boolean {
    this.wholeLiteralsOnly();
    const { asciiClass, delta, outStart, classes } = this;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128) return this.searchFolded(lower(text), () => true);
      s = delta[s * classes + asciiClass[c]!]!;
      if (outStart[s + 1]! > outStart[s]!) return true;
    }
    return false;
  }

  /** `positions` and `occursIn` read a state's ends as whole literals: over prefixes they would answer for the prefixes. */
  private wholeLiteralsOnly(): void {
    if (this.tails) throw new Error('an automaton over literal prefixes serves search and holdsExactly only');
  }

  /**
   * The search over text already lower-cased as a whole (non-ASCII case folding is not per
   * character). Characters whose case folds onto an ASCII letter (U+017F ſ onto s, U+212A Kelvin
   * onto k) are searched both ways: case-insensitive regular expressions take them for that letter,
   * and the prefilter must not be stricter than the rules.
   */
  private searchFolded(text: string, found: (id: number) => boolean | void): boolean {
    if (this.searchClasses(text, found)) return true;
    const asAscii = text.replace(/[^\x00-\x7f]/g, (c) => {
      const f = c.toUpperCase().toLowerCase();
      return f.length === 1 && f.charCodeAt(0) < 128 ? f : c;
    });
    return asAscii !== text && this.searchClasses(asAscii, found);
  }

  private searchClasses(text: string, found: (id: number) => boolean | void): boolean {
    const { delta, outStart, outIds, classes, tails, literals } = this;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      s = delta[s * classes + this.classOf(text.charCodeAt(i))]!;
      const end = outStart[s + 1]!;
      for (let k = outStart[s]!; k < end; k++) {
        const id = outIds[k]!;
        if (id < literals.length ? found(id) === true : tails!.walk(text, i + 1, id - literals.length, found)) return true;
      }
    }
    return false;
  }
}
/** The trie's size: the root and one state per distinct prefix (sorted, each literal adds what it does not share with the one before). */
function countStates(literals: readonly string[]): number {
  const sorted = [...literals].sort();
  let states = 1;
  let prev = '';
  for (const lit of sorted) {
    states += lit.length - commonPrefixLength(lit, prev);
    prev = lit;
  }
  return states;
}

/** Whether tables were built from these literals with this prefix length (by their number and characters). */
function builtFrom(t: AutomatonTables, literals: readonly string[], prefix: number): boolean {
  return t.literals === literals.length && t.chars === charCount(literals) && t.prefix === prefix;
}

function charCount(literals: readonly string[]): number {
  let n = 0;
  for (const l of literals) n += l.length;
  return n;
}
