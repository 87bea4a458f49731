import type { Event } from '../evidence/event.js';
import { lower } from '../sigma/fold.js';
import { valueText } from '../sigma/modifiers.js';
import type { CompiledRule, RuleAlternative } from '../sigma/ruleset.js';
import { AhoCorasick, type AutomatonStore, type AutomatonTables } from '../sigma/aho-corasick.js';

/**
 * The automaton holds literals' first eight characters, the rest of longer ones walked in a trie of
 * tails where their prefix is found (SigmaHQ: 23,600 literals, up to 232 characters). Measured on
 * every SigmaHQ rule: literals cut to 24 characters make a 209,000-state DFA (73 MB); cut to 10
 * characters (69,000 states, 24 MB) tested twice the rules (a shared prefix such as `c:\windows\`
 * stood for all its literals); eight characters and tails, 47,000 states in 16-bit cells (8 MB) and
 * the rules tested of whole literals.
 */
const PREFIX = 8;

/** The alternatives that apply to one channel and event id (or to a channel, any event id). */
interface Bucket {
  id: number;
  /** Alternatives without literals: tested on every event of the bucket. */
  always: number[];
}

/**
 * Rules by the channel and event id their log sources name, so that an event meets only the rules
 * that can apply to it, and a literal prefilter: one Aho-Corasick pass over the event's values finds
 * which rules' required literals occur in it; a rule none of whose literals occur is not evaluated.
 * An event costs the pass plus the rules its literals (or their lack of any) point at, not a walk
 * over every rule of its channel.
 *
 * A rule usually has several sets of literals one of which must occur (one per part of an AND:
 * `C:\Windows\` of its image and ` -enc ` of its command line). Which set fires least depends on the
 * data: the index counts how often each literal occurs and, as events come, moves each rule to the
 * set that fires least (after 256 events, then at each doubling), so that a common literal does not
 * bring a rule to every event. Any set is sound, so the matches are the same whichever is used.
 */
export class RuleIndex {
  /** Alternatives are referred to by number: lists hold numbers, per-event marks live in typed arrays. */
  private readonly alts: RuleAlternative[] = [];
  /** The number of each alternative's rule, and the rules by number. */
  private readonly ruleOfAlt: number[] = [];
  private readonly rules: CompiledRule[] = [];
  /** Buckets by lower-cased channel, then event id ('' for the channel's alternatives of any event id). */
  private readonly byChannel = new Map<string, Map<string, Bucket>>();
  /** Alternatives of any channel: bucket 0. */
  private readonly anyChannel: Bucket = { id: 0, always: [] };
  private buckets = 1;
  /** The buckets each alternative is in. */
  private readonly bucketsOfAlt: number[][] = [];
  private readonly automaton: AhoCorasick;
  /** For each literal, the alternatives whose chosen set holds it. */
  private readonly byLiteral: number[][] = [];
  /** Each alternative's literal sets (as literal ids) and the one it is indexed by. */
  private readonly optionsOfAlt: number[][][] = [];
  private readonly chosen: number[] = [];
  /** Events seen, and in how many of them each literal occurred: what choosing a set is based on. */
  private events = 0;
  private nextReplan = 256;
  private readonly literalEvents: Float64Array;
  /** Per event (a stamp): literals found, alternatives tested, rules matched, buckets the event is in. */
  private stamp = 0;
  private readonly literalSeen: Int32Array;
  private readonly tested: Int32Array;
  private readonly ruleMatched: Int32Array;
  private readonly bucketOpen: Int32Array;
  private readonly matchedRules: number[] = [];
  private readonly event: { current: Event | undefined } = { current: undefined };
  private readonly onLiteral: (id: number) => void;

  /**
   * `automaton`: the tables of another thread's index over the same rules, to share instead of
   * building (used only if they match); else `store` may hold them from an earlier run, and keeps
   * them when they had to be built.
   */
  constructor(rules: readonly CompiledRule[], automaton?: AutomatonTables, store?: AutomatonStore) {
    const literalIds = new Map<string, number>();
    const idOf = (lit: string) => {
      let id = literalIds.get(lit);
      if (id === undefined) {
        literalIds.set(lit, (id = this.byLiteral.length));
        this.byLiteral.push([]);
      }
      return id;
    };
    for (const rule of rules) {
      const r = this.rules.push(rule) - 1;
      for (const alt of rule.alternatives) {
        const n = this.alts.push(alt) - 1;
        this.ruleOfAlt.push(r);
        // The set the heuristic prefers first (the prefilter's own), then the others the detection offers.
        const sets = [...(alt.literals ? [alt.literals] : []), ...(alt.literalOptions ?? [])].map((set) => [...new Set(set.map(idOf))]);
        const options = sets.filter((o, i) => o.length && sets.findIndex((x) => x.length === o.length && x.every((id) => o.includes(id))) === i);
        this.optionsOfAlt.push(options);
        this.chosen.push(0);
        if (options.length) for (const id of options[0]!) this.byLiteral[id]!.push(n);
        const buckets = alt.channels ? [...alt.channels].flatMap((ch) => (alt.eventIds ? [...alt.eventIds] : ['']).map((id) => this.bucket(ch, id))) : [this.anyChannel];
        this.bucketsOfAlt.push(buckets.map((b) => b.id));
        if (!options.length) for (const b of buckets) b.always.push(n);
      }
    }
    this.literalSeen = new Int32Array(this.byLiteral.length);
    this.literalEvents = new Float64Array(this.byLiteral.length);
    this.tested = new Int32Array(this.alts.length);
    this.ruleMatched = new Int32Array(this.rules.length);
    this.bucketOpen = new Int32Array(this.buckets);
    const literals = [...literalIds.keys()];
    this.automaton = new AhoCorasick(literals, automaton ?? store?.load(literals, PREFIX), PREFIX);
    if (store && this.automaton.built) store.save(literals, this.automaton.tables());
    this.onLiteral = (id) => {
      if (this.literalSeen[id] === this.stamp) return;
      this.literalSeen[id] = this.stamp;
      this.literalEvents[id]!++;
      for (const n of this.byLiteral[id]!) this.test(n, this.event.current!);
    };
  }

  /** The automaton's tables, for hunting threads' indexes over the same rules. */
  automatonTables(): AutomatonTables {
    return this.automaton.tables();
  }

  /** Moves each alternative to the literal set that occurred in the fewest events so far. */
  private replan(): void {
    const rate = this.literalEvents;
    for (let n = 0; n < this.optionsOfAlt.length; n++) {
      const options = this.optionsOfAlt[n]!;
      if (options.length < 2) continue;
      let best = this.chosen[n]!;
      let bestCost = Infinity;
      options.forEach((o, i) => {
        let cost = 0;
        for (const id of o) cost += rate[id]!;
        if (cost < bestCost || (cost === bestCost && i === this.chosen[n])) {
          bestCost = cost;
          best = i;
        }
      });
      if (best === this.chosen[n]) continue;
      for (const id of options[this.chosen[n]!]!) {
        const list = this.byLiteral[id]!;
        list.splice(list.indexOf(n), 1);
      }
      for (const id of options[best]!) this.byLiteral[id]!.push(n);
      this.chosen[n] = best;
    }
  }

  private bucket(channel: string, eventId: string): Bucket {
    let ids = this.byChannel.get(channel);
    if (!ids) this.byChannel.set(channel, (ids = new Map()));
    let b = ids.get(eventId);
    if (!b) ids.set(eventId, (b = { id: this.buckets++, always: [] }));
    return b;
  }

  /**
   * Literals one of which occurs in a log line when any rule that applies to events of this channel
   * (and no event id) can match an event whose values all occur in the line. Readers may join two
   * values with '?' (a URL's path and query), so each literal stands here by its longest piece without
   * '?'. Undefined when the channel has rules without literals, which every event must meet.
   */
  lineLiterals(channel: string): string[] | undefined {
    const key = lower(channel);
    const buckets = [this.anyChannel, this.byChannel.get(key)?.get('')].filter((b): b is Bucket => b !== undefined);
    if (buckets.some((b) => b.always.length > 0)) return undefined;
    const ids = new Set(buckets.map((b) => b.id));
    const pieces = new Set<string>();
    this.alts.forEach((alt, n) => {
      if (!this.bucketsOfAlt[n]!.some((b) => ids.has(b))) return;
      for (const lit of alt.literals ?? []) pieces.add(lit.split('?').reduce((a, b) => (b.length > a.length ? b : a), ''));
    });
    // A literal of '?' alone has no piece to look for: such a rule must see every line.
    return pieces.has('') ? undefined : [...pieces];
  }

  /** A rule by its number. */
  rule(n: number): CompiledRule {
    return this.rules[n]!;
  }

  /** The rules that match an event, each once, in the order they were given. */
  match(event: Event): CompiledRule[] {
    return this.matchNumbers(event).map((r) => this.rules[r]!);
  }

  /** The numbers (places in the list given) of the rules that match an event, ascending. */
  matchNumbers(event: Event): number[] {
    if (++this.events === this.nextReplan) {
      this.replan();
      this.nextReplan *= 2;
    }
    const stamp = ++this.stamp;
    this.event.current = event;
    this.matchedRules.length = 0;
    const open: Bucket[] = [this.anyChannel];
    const channel = valueText(event.get('Channel'));
    const ids = channel === undefined ? undefined : this.byChannel.get(lower(channel));
    if (ids) {
      const id = valueText(event.get('EventID'));
      const exact = id === undefined ? undefined : ids.get(lower(id));
      if (exact) open.push(exact);
      const any = ids.get('');
      if (any) open.push(any);
    }
    for (const b of open) this.bucketOpen[b.id] = stamp;
    for (const b of open) for (const n of b.always) this.test(n, event);
    const values = event.values();
    for (const v of values) {
      if (Array.isArray(v)) {
        for (const x of v) {
          const t = valueText(x);
          if (t !== undefined) this.automaton.search(t, this.onLiteral);
        }
      } else {
        const t = valueText(v);
        if (t !== undefined) this.automaton.search(t, this.onLiteral);
      }
    }
    this.event.current = undefined;
    return this.matchedRules.slice().sort((a, b) => a - b);
  }

  /** Tests an alternative once per event, if the event is in one of its buckets and its rule has not matched yet. */
  private test(n: number, event: Event): void {
    const stamp = this.stamp;
    if (this.tested[n] === stamp) return;
    this.tested[n] = stamp;
    const r = this.ruleOfAlt[n]!;
    if (this.ruleMatched[r] === stamp) return;
    const buckets = this.bucketsOfAlt[n]!;
    let open = false;
    for (let i = 0; i < buckets.length && !open; i++) open = this.bucketOpen[buckets[i]!] === stamp;
    if (!open) return;
    const a = this.alts[n]!;
    // Alternatives found by channel (and event id) need only their other conditions checked.
    if ((a.channels ? a.belongsBesidesIndex(event) : a.belongs(event)) && a.matches(event)) {
      this.ruleMatched[r] = stamp;
      this.matchedRules.push(r);
    }
  }
}
