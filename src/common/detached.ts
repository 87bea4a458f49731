/**
 * A copy of plain data (objects, arrays, primitives) whose strings are its own. V8 makes a substring
 * of a long string a view into it, so one value kept from an event read out of a text block keeps
 * the whole block (256 KiB and more) alive: a hunt that holds a unit's matches would hold every block
 * they came from.
 */
export function detached<T>(value: T): T {
  // V8 copies substrings shorter than 13 characters anyway; a longer one is copied by flattening a concatenation.
  if (typeof value === 'string') return (value.length < 13 ? value : (' ' + value).slice(1)) as T;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(detached) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    const v = detached((value as Record<string, unknown>)[k]);
    // An event's own `__proto__` field (JSON can hold one) stays a field, not the copy's prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out as T;
}
