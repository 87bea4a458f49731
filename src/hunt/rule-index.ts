import type { Event } from '../evidence/event.js';
import { lower, someValueText, valueText } from '../sigma/modifiers.js';
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
  /** Alternatives are referred to by number: lists hold numbers, per-event marks live in typed arrays. */
  private readonly alts: RuleAlternative[] = [];
  /** The number of each alternative's rule, and the rules by number. */
  private readonly ruleOfAlt: number[] = [];
  private readonly rules: CompiledRule[] = [];
  private readonly byChannel = new Map<string, { byEventId: Map<string, number[]>; anyEventId: number[] }>();
  private readonly anyChannel: number[] = [];
  private readonly automaton: AhoCorasick;
  /** For each literal, the alternatives that require it (one of their literals). */
  private readonly byLiteral: number[][] = [];
  /** Per event (a stamp): literals found, alternatives with a literal found, rules matched. */
  private stamp = 0;
  private readonly literalSeen: Int32Array;
  private readonly possible: Int32Array;
  private readonly ruleMatched: Int32Array;

  constructor(rules: readonly CompiledRule[]) {
    const literalIds = new Map<string, number>();
    for (const rule of rules) {
      const r = this.rules.push(rule) - 1;
      for (const alt of rule.alternatives) {
        const n = this.alts.push(alt) - 1;
        this.ruleOfAlt.push(r);
        // A literal's prefix occurs wherever the literal does: prefixes keep the automaton small.
        for (const lit of new Set((alt.literals ?? []).map((l) => l.slice(0, MAX_LITERAL)))) {
          let id = literalIds.get(lit);
          if (id === undefined) {
            literalIds.set(lit, (id = this.byLiteral.length));
            this.byLiteral.push([]);
          }
          this.byLiteral[id]!.push(n);
        }
        if (!alt.channels) this.anyChannel.push(n);
        for (const ch of alt.channels ?? []) {
          let slot = this.byChannel.get(ch);
          if (!slot) this.byChannel.set(ch, (slot = { byEventId: new Map(), anyEventId: [] }));
          if (!alt.eventIds) slot.anyEventId.push(n);
          else for (const id of alt.eventIds) {
            const list = slot.byEventId.get(id);
            if (list) list.push(n);
            else slot.byEventId.set(id, [n]);
          }
        }
      }
    }
    this.literalSeen = new Int32Array(this.byLiteral.length);
    this.possible = new Int32Array(this.alts.length);
    this.ruleMatched = new Int32Array(this.rules.length);
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
    const channel = valueText(event.get('Channel'));
    const slot = channel === undefined ? undefined : this.byChannel.get(lower(channel));
    if (slot) {
      const id = valueText(event.get('EventID'));
      if (id !== undefined) this.test(slot.byEventId.get(lower(id)), true, event, stamp, hits);
      this.test(slot.anyEventId, true, event, stamp, hits);
    }
    this.test(this.anyChannel, false, event, stamp, hits);
    return hits;
  }

  /** Alternatives found by channel (and event id) need only their other conditions checked. */
  private test(list: readonly number[] | undefined, indexed: boolean, event: Event, stamp: number, hits: CompiledRule[]): void {
    if (!list) return;
    for (const n of list) {
      const r = this.ruleOfAlt[n]!;
      if (this.ruleMatched[r] === stamp) continue;
      const a = this.alts[n]!;
      if (a.literals && this.possible[n] !== stamp) continue;
      if ((indexed ? a.belongsBesidesIndex(event) : a.belongs(event)) && a.matches(event)) {
        this.ruleMatched[r] = stamp;
        hits.push(this.rules[r]!);
      }
    }
  }
}

/** The event's values as one lower-cased text, for the literal prefilter. */
function eventText(event: Event): string {
  const parts: string[] = [];
  someValueText(event.values(), (t) => void parts.push(t));
  return parts.join('\n');
}
