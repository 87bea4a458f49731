import { lower } from '../sigma/fold.js';
import { AhoCorasick } from '../sigma/aho-corasick.js';

/**
 * Finds where any of a set of literals occurs in a block of text, case-insensitively, so that a
 * reader can pass over the lines where none does. `hits` gives positions (ascending) of occurrences
 * from `from` on, or undefined when it cannot tell for this block (every line is then a candidate).
 * `ascii` says the block is plain ASCII.
 */
export interface TextFilter {
  hits(text: string, from: number, ascii: boolean): number[] | undefined;
}

/** Literals are cut at this length: long enough that shared prefixes of whole log lines do not pass everything. */
const MAX_LITERAL = 32;
/** Up to this many literals, each is looked for by its rarest character; more share one automaton pass. */
const ANCHORED_LITERALS = 16;
/** Anchored search is kept while it stops less than once in this many characters. */
const STOPS_PER = 64;
/** ASCII characters from rarest to commonest in logs (a rough order: punctuation of URLs, digits and vowels last). */
const RARITY = "~`^|{}[]<>\\!$*@_'\"zqxjkvbywgpfmuc#+;lrd=hs%&?niotae0123456789:,.-/ ";

interface Anchored {
  literal: string;
  /** The rarest character's place in the literal, and the forms (both cases of a letter) it is searched in; for a literal without letters, the literal itself at 0. */
  at: number;
  forms: string[];
}

function anchored(literal: string): Anchored {
  // A literal without letters has no case: searched whole by the native string search, not by its
  // rarest character (an address's digits and dots are on every line of a log).
  if (!/[a-z]/i.test(literal)) return { literal, at: 0, forms: [literal] };
  const rank = (c: string) => RARITY.indexOf(c);
  let at = 0;
  for (let i = 1; i < literal.length; i++) if (rank(literal[i]!) < rank(literal[at]!)) at = i;
  const c = literal[at]!;
  return { literal, at, forms: c.toUpperCase() !== c ? [c, c.toUpperCase()] : [c] };
}

/** Whether the ASCII literal (lower case) occurs at text[start], ignoring ASCII case. */
function occursAt(text: string, start: number, literal: string): boolean {
  for (let j = 0; j < literal.length; j++) {
    let c = text.charCodeAt(start + j);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== literal.charCodeAt(j)) return false;
  }
  return true;
}

/** A filter for some literals; undefined when literals can span lines (then no line can be passed over). */
export function textFilter(literals: readonly string[]): TextFilter | undefined {
  const lits = [...new Set(literals.map((l) => lower(l).slice(0, MAX_LITERAL)))];
  if (lits.some((l) => l.length === 0 || /[\r\n]/.test(l))) return undefined;
  if (lits.length === 0) return { hits: () => [] };
  const automaton = new AhoCorasick(lits);
  // Native searches for one rare character run at memory speed; the literal is checked where it is found.
  const anchors = lits.length <= ANCHORED_LITERALS && lits.every((l) => /^[\x00-\x7f]*$/.test(l)) ? lits.map(anchored) : undefined;
  // Where an anchor is common in the text after all (literals taken from evidence: an account name
  // with its domain's backslash, `.pst`), the search stops on most lines: once it stops more than once
  // in STOPS_PER characters, the set is searched by one case-blind regular expression instead, which V8
  // runs natively (2.5 times the automaton's speed on HttpProxy lines).
  let pattern: RegExp | undefined;
  return {
    hits(text, from, ascii) {
      // Beyond ASCII, case folding can change lengths: the automaton's own folding, and no positions.
      if (!ascii) return automaton.occursIn(from ? text.slice(from) : text) ? undefined : [];
      const out: number[] = [];
      if (pattern) {
        pattern.lastIndex = from;
        for (let m = pattern.exec(text); m; m = pattern.exec(text)) out.push(m.index);
        return out;
      }
      if (!anchors) {
        automaton.positions(text, from, (end) => out.push(end));
        return out;
      }
      let stops = 0;
      for (const { literal, at, forms } of anchors) {
        for (const form of forms) {
          for (let i = text.indexOf(form, from + at); i >= 0; i = text.indexOf(form, i + 1)) {
            stops++;
            if (form === literal || occursAt(text, i - at, literal)) out.push(i - at);
          }
        }
      }
      if (stops * STOPS_PER > text.length - from) pattern = new RegExp(lits.map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi');
      return anchors.length > 1 || anchors[0]!.forms.length > 1 ? out.sort((a, b) => a - b) : out;
    },
  };
}
