/**
 * JSON text for event data. Native JSON.stringify is the fast path; values holding 64-bit integers
 * beyond 2^53 (kept as bigint so they stay exact) go through a writer that prints them as numbers.
 */
export function toJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (e) {
    if (e instanceof TypeError) return writeExact(value);
    throw e;
  }
}

function writeExact(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) return '[' + v.map(writeExact).join(',') + ']';
      let s = '';
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined) continue;
        s += (s ? ',' : '') + JSON.stringify(k) + ':' + writeExact(x);
      }
      return '{' + s + '}';
    }
    default:
      return JSON.stringify(v) ?? 'null';
  }
}
