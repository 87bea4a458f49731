import type { Event } from '../evidence/event.js';
import type { CompiledRule } from '../sigma/ruleset.js';

/** A rule that matched an event. */
export interface Detection {
  rule: CompiledRule;
  event: Event;
}

/** The rules that match an event. */
export function matchEvent(rules: readonly CompiledRule[], event: Event): CompiledRule[] {
  const hits: CompiledRule[] = [];
  for (const r of rules) if (r.match(event)) hits.push(r);
  return hits;
}
