import { detached } from '../common/detached.js';

/**
 * Lower-cased text, memoised: an event's values are tested by hundreds of rules, and a Map lookup of
 * the same string (its hash is cached in it) is much cheaper than lower-casing it again each time.
 * The memo is emptied once it holds about a million characters, so long values cannot pile up.
 */
const lowered = new Map<string, string>();
let loweredChars = 0;
const MAX_LOWERED_CHARS = 1 << 20;

export function lower(t: string): string {
  let l = lowered.get(t);
  if (l === undefined) {
    if (loweredChars >= MAX_LOWERED_CHARS || lowered.size >= 8192) {
      lowered.clear();
      loweredChars = 0;
    }
    // The memo outlives the event: a key that is a view into a text block would keep the block.
    const own = detached(t);
    l = own.toLowerCase();
    lowered.set(own, l);
    loweredChars += t.length;
  }
  return l;
}
