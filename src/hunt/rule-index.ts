import type { Event } from '../evidence/event.js';
import { valueText } from '../sigma/modifiers.js';
import type { CompiledRule, RuleAlternative } from '../sigma/ruleset.js';

/**
 * Rules by the channel and event id their log sources name, so that an event meets only the rules
 * that can apply to it (of ~3,000 SigmaHQ rules, a Sysmon process creation event meets a few hundred).
 */
export class RuleIndex {
  private readonly byChannel = new Map<string, { byEventId: Map<string, RuleAlternative[]>; anyEventId: RuleAlternative[] }>();
  private readonly anyChannel: RuleAlternative[] = [];
  private stamp = 0;
  private readonly seen = new Map<CompiledRule, number>();

  constructor(rules: readonly CompiledRule[]) {
    for (const rule of rules) {
      for (const alt of rule.alternatives) {
        if (!alt.channels) {
          this.anyChannel.push(alt);
          continue;
        }
        for (const ch of alt.channels) {
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
  }

  /** The rules that match an event, each once. */
  match(event: Event): CompiledRule[] {
    const hits: CompiledRule[] = [];
    const stamp = ++this.stamp;
    // Alternatives found by channel (and event id) need only their other conditions checked.
    const test = (alts: readonly RuleAlternative[] | undefined, indexed: boolean) => {
      if (!alts) return;
      for (const a of alts) {
        if (this.seen.get(a.rule) === stamp) continue;
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
