import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { detached } from '../../src/common/detached.js';

test('a detached copy of plain data equals it and shares no object with it', () => {
  fc.assert(fc.property(fc.jsonValue(), (value) => {
    const copy = detached(value);
    assert.deepEqual(copy, value);
    const objects = (v: unknown, out: Set<unknown>): Set<unknown> => {
      if (v !== null && typeof v === 'object') {
        out.add(v);
        for (const x of Object.values(v)) objects(x, out);
      }
      return out;
    };
    const mine = objects(copy, new Set());
    for (const o of objects(value, new Set())) assert.ok(!mine.has(o));
  }));
  // Substrings of a long text (what a reader's views hold) come back equal.
  const block = 'x'.repeat(300_000) + 'Provider,Microsoft-Windows-Sysmon,' + 'y'.repeat(300_000);
  const value = { Provider: block.slice(300_009, 300_033), n: 4, none: null, list: [block.slice(1, 40)] };
  assert.deepEqual(detached(value), value);
  const hostile = JSON.parse('{"__proto__": {"polluted": "Image"}, "Image": "cmd.exe"}') as Record<string, unknown>;
  const copy = detached(hostile);
  assert.deepEqual(Object.keys(copy), ['__proto__', 'Image']);
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.equal(JSON.stringify(copy), JSON.stringify(hostile));
});
