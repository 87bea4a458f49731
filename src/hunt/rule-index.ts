import type { Event } from '../evidence/event.js';
import { valueText } from '../sigma/modifiers.js';
import { lower } from '../sigma/modifiers.js';
import type { CompiledRule, RuleAlternative } from '../sigma/ruleset.js';
import { AhoCorasick } from './aho-corasick.js';

/** Literals are cut to this length for the automaton (about 13,000 SigmaHQ literals, some very long). */
const MAX_LITERAL = 12;

/**
 * Rules by the channel and event id their log sources name, so that an event meets only the rules
 * that can apply to it (of ~3,000 SigmaHQ rules, a Sysmon process creation event meets about 1,200),
 * and a literal prefilter: one Aho-Corasick pass over the event's text finds which rules' required
 * literals occur in it; a rule none of whose literals occur cannot match and is not evaluated.
 */
export class RuleIndex {
  private readonly byChannel = new Map<string, { byEventId: Map<string, RuleAlternative[]>; anyEventId: RuleAlternative[] }>();
  private readonly anyChannel: RuleAlternative[] = [];
  private stamp = 0;
  private readonly seen = new Map<CompiledRule, number>();
  private readonly automaton: AhoCorasick;
  /** For each literal, the numbers of the alternatives that require it (one of their literals). */
  private readonly byLiteral: number[][];
  /** Per literal, the stamp of the last event it was found in (each literal is handled once per event). */
  private readonly literalSeen: Int32Array;
  /** Per alternative (by number), the stamp of the last event in which one of its literals occurred. */
  private readonly possible: Int32Array;
  private readonly altNumber = new Map<RuleAlternative, number>();

  constructor(rules: readonly CompiledRule[]) {
    const literalIds = new Map<string, number>();
    const byLiteral: number[][] = [];
    for (const rule of rules) {
      for (const alt of rule.alternatives) {
        const n = this.altNumber.size;
        this.altNumber.set(alt, n);
        // A literal's prefix occurs wherever the literal does: prefixes keep the automaton small.
        for (const lit of new Set((alt.literals ?? []).map((l) => l.slice(0, MAX_LITERAL)))) {
          let id = literalIds.get(lit);
          if (id === undefined) {
            literalIds.set(lit, (id = byLiteral.length));
            byLiteral.push([]);
          }
          byLiteral[id]!.push(n);
        }
        if (!alt.channels) this.anyChannel.push(alt);
        for (const ch of alt.channels ?? []) {
          let slot = this.byChannel.get(ch);
          if (!slot) this.byChannel.set(ch, (slot = { byEventId: new Map(), anyEventId: [] }));
          if (!alt.eventIds) slot.anyEventId.push(alt);
          else for (const id of alt.eventIds) {
            const list = slot.byEventId.get(id);
            if (list) list.push(alt);
            else slot.byEventId.set(id, [alt]);
          }
        }
      }
    }
    this.byLiteral = byLiteral;
    this.literalSeen = new Int32Array(byLiteral.length);
    this.possible = new Int32Array(this.altNumber.size);
    this.automaton = new AhoCorasick([...literalIds.keys()]);
  }

  /** The rules that match an event, each once. */
  match(event: Event): CompiledRule[] {
    const hits: CompiledRule[] = [];
    const stamp = ++this.stamp;
    this.automaton.search(eventText(event), (id) => {
      if (this.literalSeen[id] === stamp) return;
      this.literalSeen[id] = stamp;
      for (const n of this.byLiteral[id]!) this.possible[n] = stamp;
    });
    // Alternatives found by channel (and event id) need only their other conditions checked.
    const test = (alts: readonly RuleAlternative[] | undefined, indexed: boolean) => {
      if (!alts) return;
      for (const a of alts) {
        if (this.seen.get(a.rule) === stamp) continue;
        if (a.literals && this.possible[this.altNumber.get(a)!] !== stamp) continue;
        if ((indexed ? a.belongsBesidesIndex(event) : a.belongs(event)) && a.matches(event)) {
          this.seen.set(a.rule, stamp);
          hits.push(a.rule);
        }
      }
    };
    const channel = valueText(event.get('Channel'))?.toLowerCase();
    const slot = channel === undefined ? undefined : this.byChannel.get(channel);
    if (slot) {
      const id = valueText(event.get('EventID'));
      if (id !== undefined) test(slot.byEventId.get(id.toLowerCase()), true);
      test(slot.anyEventId, true);
    }
    test(this.anyChannel, false);
    return hits;
  }
}

/** The event's values as one lower-cased text, for the literal prefilter. */
function eventText(event: Event): string {
  const parts: string[] = [];
  for (const v of event.values()) {
    if (Array.isArray(v)) {
      for (const x of v) {
        const t = valueText(x);
        if (t !== undefined) parts.push(lower(t));
      }
    } else {
      const t = valueText(v);
      if (t !== undefined) parts.push(lower(t));
    }
  }
  return parts.join('\n');
}
