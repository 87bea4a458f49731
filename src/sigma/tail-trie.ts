/**
 * The rest of literals longer than an automaton's prefix length: one trie per distinct prefix, walked
 * from where the automaton found that prefix. Hundreds of SigmaHQ literals share a prefix such as
 * `c:\windows`, so comparing each tail in turn at every such hit would cost more than it saves; a walk
 * costs the characters that agree with some tail. Nodes go only as deep as literals share: past
 * that a literal is a leaf with the rest of its symbols, compared in one go. Flat typed arrays: a
 * node's edges are `edgeSym/edgeTo[edgeStart[n] .. edgeStart[n+1])` (most nodes have one), its
 * leaves `leaf…[leafStart[n] .. leafStart[n+1])`.
 *
 * Characters are compared as the automaton does: ASCII case-insensitively; every non-ASCII character
 * is one symbol, so a non-ASCII character of a tail agrees with any non-ASCII one of the text (the
 * automaton's folded search judges such text, and a prefilter may pass too much, never too little).
 */
import { commonPrefixLength } from './common-prefix.js';

const OTHER = 128;
/** A leaf with no rest, and the text's end: values no symbol takes. */
const NO_REST = 255;
const END = 254;

export class TailTrie {
  /** Groups of literals by prefix (numbered in the order of their symbols): the automaton reports a group where its prefix ends. */
  readonly groups: number;
  private readonly groupOfLiteral: Int32Array;
  private readonly root: Int32Array;
  private readonly edgeStart: Int32Array;
  private readonly edgeSym: Uint8Array;
  private readonly edgeTo: Int32Array;
  /** Literals whose path ends at a node, and the symbols that must follow there (often none). */
  private readonly leafStart: Int32Array;
  private readonly leafIds: Int32Array;
  private readonly leafRest: string[];
  /** The first symbol of each leaf's rest (NO_REST for none): most leaves are passed over on it without a call. */
  private readonly leafFirst: Uint8Array;

  constructor(literals: readonly string[], prefix: number) {
    // Built from the literals in order of their symbols, each adding the nodes it does not share with
    // the one before (no map per node), and only as deep as it shares with a neighbour: past that
    // its rest is one string, compared where the walk reaches it.
    const keys = literals.map((l) => (l.length > prefix ? symbols(l) : ''));
    const long = [...keys.keys()].filter((id) => keys[id]!.length > 0).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
    // How much each shares with the one before: 0 unless their prefixes agree (another group).
    const shared = long.map((id, p) => {
      const n = p > 0 ? commonPrefixLength(keys[id]!, keys[long[p - 1]!]!) : 0;
      return n >= prefix ? n : 0;
    });
    this.groupOfLiteral = new Int32Array(literals.length).fill(-1);
    const roots: number[] = [];
    const edgeFrom: number[] = [];
    const edgeSym: number[] = [];
    const edgeTo: number[] = [];
    const leafNode: number[] = [];
    const leafDepth: number[] = [];
    const path: number[] = [];
    let nodes = 0;
    long.forEach((id, p) => {
      const key = keys[id]!;
      const common = shared[p]!;
      if (common < prefix) roots.push((path[0] = nodes++));
      const depth = Math.max(common, shared[p + 1] ?? 0, prefix);
      for (let d = Math.max(common, prefix); d < depth; d++) {
        edgeFrom.push(path[d - prefix]!);
        edgeSym.push(key.charCodeAt(d));
        edgeTo.push((path[d - prefix + 1] = nodes++));
      }
      this.groupOfLiteral[id] = roots.length - 1;
      leafNode.push(path[depth - prefix]!);
      leafDepth.push(depth);
    });
    this.groups = roots.length;
    this.root = Int32Array.from(roots);
    // Edges and leaves grouped by their node into flat arrays.
    this.edgeStart = countingStarts(edgeFrom, nodes);
    this.edgeSym = new Uint8Array(edgeFrom.length);
    this.edgeTo = new Int32Array(edgeFrom.length);
    const fill = this.edgeStart.slice(0, nodes);
    edgeFrom.forEach((from, e) => {
      const at = fill[from]!++;
      this.edgeSym[at] = edgeSym[e]!;
      this.edgeTo[at] = edgeTo[e]!;
    });
    this.leafStart = countingStarts(leafNode, nodes);
    this.leafIds = new Int32Array(long.length);
    this.leafRest = new Array<string>(long.length);
    this.leafFirst = new Uint8Array(long.length);
    const leafFill = this.leafStart.slice(0, nodes);
    leafNode.forEach((n, p) => {
      const at = leafFill[n]!++;
      const id = long[p]!;
      this.leafIds[at] = id;
      const rest = keys[id]!.slice(leafDepth[p]);
      this.leafRest[at] = rest;
      this.leafFirst[at] = rest.length ? rest.charCodeAt(0) : NO_REST;
    });
  }

  /** The group a literal's prefix stands for, or -1 for a literal no longer than the prefix. */
  group(literal: number): number {
    return this.groupOfLiteral[literal]!;
  }

  /** Calls `found` with each literal of the group whose tail follows in text from `at`. */
  walk(text: string, at: number, group: number, found: (id: number) => boolean | void): boolean {
    const { edgeStart, edgeSym, edgeTo, leafStart, leafIds, leafRest, leafFirst } = this;
    let n = this.root[group]!;
    for (let j = at; ; j++) {
      const sym = j < text.length ? symbolOf(text.charCodeAt(j)) : END;
      for (let k = leafStart[n]!; k < leafStart[n + 1]!; k++) {
        const first = leafFirst[k]!;
        if ((first === NO_REST || (first === sym && follows(text, j + 1, leafRest[k]!, 1))) && found(leafIds[k]!) === true) return true;
      }
      if (sym === END) return false;
      let next = -1;
      for (let e = edgeStart[n]!; e < edgeStart[n + 1]!; e++) {
        if (edgeSym[e] === sym) {
          next = edgeTo[e]!;
          break;
        }
      }
      if (next < 0) return false;
      n = next;
    }
  }
}

/** Whether text from `at` holds the symbols of rest from its `from`-th on. */
function follows(text: string, at: number, rest: string, from: number): boolean {
  if (at + rest.length - from > text.length) return false;
  for (let j = from; j < rest.length; j++) if (symbolOf(text.charCodeAt(at + j - from)) !== rest.charCodeAt(j)) return false;
  return true;
}

/** How many groups a trie over these literals has: what an automaton over their prefixes may report beside the literals. */
export function tailGroups(literals: readonly string[], prefix: number): number {
  return new Set(literals.filter((l) => l.length > prefix).map((l) => symbols(l).slice(0, prefix))).size;
}

/** For items keyed by node, where each node's items start in a flat array sorted by node. */
function countingStarts(nodeOf: readonly number[], nodes: number): Int32Array {
  const start = new Int32Array(nodes + 1);
  for (const n of nodeOf) start[n + 1]!++;
  for (let n = 0; n < nodes; n++) start[n + 1]! += start[n]!;
  return start;
}

/** A literal as the symbols the walk compares (ASCII lower-cased, as the automaton folds text; every non-ASCII character one symbol). */
function symbols(literal: string): string {
  return literal.replace(/[A-Z]/g, (c) => c.toLowerCase()).replace(/[^\x00-\x7f]/g, '\x80');
}

function symbolOf(c: number): number {
  if (c >= 128) return OTHER;
  return c >= 65 && c <= 90 ? c + 32 : c;
}
