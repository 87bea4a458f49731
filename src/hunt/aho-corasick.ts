/**
 * Aho-Corasick: finds which of many literals occur in a text in one pass over it. The hunt engine's
 * prefilter runs every rule's literals through one automaton per event.
 */
export class AhoCorasick {
  /** goto[node] maps a UTF-16 code unit to the next node. */
  private readonly next: Map<number, number>[] = [new Map()];
  private readonly fail: number[] = [0];
  /** Literal ids ending at a node, including those reached through failure links. */
  private readonly out: number[][] = [[]];

  constructor(literals: readonly string[]) {
    literals.forEach((lit, id) => {
      let node = 0;
      for (let i = 0; i < lit.length; i++) {
        const c = lit.charCodeAt(i);
        let to = this.next[node]!.get(c);
        if (to === undefined) {
          to = this.next.length;
          this.next.push(new Map());
          this.fail.push(0);
          this.out.push([]);
          this.next[node]!.set(c, to);
        }
        node = to;
      }
      this.out[node]!.push(id);
    });
    // Breadth-first failure links.
    const queue: number[] = [];
    for (const to of this.next[0]!.values()) queue.push(to);
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q]!;
      for (const [c, to] of this.next[node]!) {
        queue.push(to);
        let f = this.fail[node]!;
        while (f !== 0 && !this.next[f]!.has(c)) f = this.fail[f]!;
        const target = this.next[f]!.get(c);
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
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let to = next[node]!.get(c);
      while (to === undefined && node !== 0) {
        node = this.fail[node]!;
        to = next[node]!.get(c);
      }
      node = to ?? 0;
      const ids = this.out[node]!;
      for (let k = 0; k < ids.length; k++) found(ids[k]!);
    }
  }
}
