/**
 * Aho-Corasick: finds which of many literals occur in a text in one pass over it. The hunt engine's
 * prefilter runs every rule's literals through one automaton per event. Transitions of all nodes
 * live in one Map keyed by node and character (small integers for ASCII, which V8 hashes fastest),
 * which builds far faster than a Map per node.
 */
const key = (node: number, c: number) => (c < 128 ? node * 128 + c : -(node * 65536 + c));

export class AhoCorasick {
  private readonly next = new Map<number, number>();
  private fail: Int32Array;
  /** Literal ids ending at a node, including those reached through failure links. */
  private readonly out: number[][] = [[]];
  private nodes = 1;

  constructor(literals: readonly string[]) {
    const children: number[][] = [[]];
    literals.forEach((lit, id) => {
      let node = 0;
      for (let i = 0; i < lit.length; i++) {
        const k = key(node, lit.charCodeAt(i));
        let to = this.next.get(k);
        if (to === undefined) {
          to = this.nodes++;
          this.next.set(k, to);
          this.out.push([]);
          children.push([]);
          children[node]!.push(lit.charCodeAt(i));
        }
        node = to;
      }
      this.out[node]!.push(id);
    });
    this.fail = new Int32Array(this.nodes);
    // Breadth-first failure links.
    const queue: number[] = [];
    for (const c of children[0]!) queue.push(this.next.get(key(0, c))!);
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q]!;
      for (const c of children[node]!) {
        const to = this.next.get(key(node, c))!;
        queue.push(to);
        let f = this.fail[node]!;
        let target = this.next.get(key(f, c));
        while (target === undefined && f !== 0) {
          f = this.fail[f]!;
          target = this.next.get(key(f, c));
        }
        this.fail[to] = target !== undefined && target !== to ? target : 0;
        const inherited = this.out[this.fail[to]!]!;
        if (inherited.length) this.out[to] = [...this.out[to]!, ...inherited];
      }
    }
  }

  /** Calls `found` with the id of each literal occurring in text (possibly more than once). */
  search(text: string, found: (id: number) => void): void {
    let node = 0;
    const next = this.next;
    const fail = this.fail;
    const out = this.out;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let to = next.get(c < 128 ? node * 128 + c : -(node * 65536 + c));
      while (to === undefined && node !== 0) {
        node = fail[node]!;
        to = next.get(c < 128 ? node * 128 + c : -(node * 65536 + c));
      }
      node = to ?? 0;
      const ids = out[node]!;
      for (let k = 0; k < ids.length; k++) found(ids[k]!);
    }
  }
}
