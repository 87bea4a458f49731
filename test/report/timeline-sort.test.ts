import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TimelineSorter } from '../../src/report/timeline-sort.js';

test('the timeline sorter gives lines (any text) in time order, ties in arrival order, in memory or through disk', async () => {
  const time = fc.oneof(fc.integer({ min: 0, max: 4e12 }).map((t) => new Date(t).toISOString()), fc.constant('not a time'));
  await fc.assert(fc.asyncProperty(fc.array(time, { maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 8 }).map((t) => t.replace(/[\r\n]/g, ' ')), fc.constantFrom(200, 5000, 1 << 26), async (times, text, limit) => {
    const sorter = new TimelineSorter(limit);
    times.forEach((t, i) => sorter.add(t, `line ${i} ${text} ${t}`));
    const out: string[] = [];
    for await (const l of sorter.sorted()) out.push(l);
    const key = (t: string) => (Number.isNaN(Date.parse(t)) ? Infinity : Date.parse(t));
    const expected = times.map((t, i) => ({ t, i })).sort((a, b) => key(a.t) - key(b.t) || (key(a.t) === key(b.t) ? a.i - b.i : 0) || a.i - b.i).map(({ t, i }) => `line ${i} ${text} ${t}`);
    assert.deepEqual(out, expected);
    if (limit === 200 && times.length > 20) assert.ok(sorter.spilled > 1);
  }), { numRuns: 60 });
});

test('a line longer than the sorter\'s blocks comes back whole, in memory and through disk', async () => {
  for (const limit of [100, 1 << 26]) {
    const sorter = new TimelineSorter(limit);
    const long = 'é'.repeat(700_000);
    sorter.add('2021-03-03T00:00:02Z', `b ${long}`);
    sorter.add('2021-03-03T00:00:01Z', 'a');
    sorter.add('2021-03-03T00:00:03Z', 'c');
    const out: string[] = [];
    for await (const l of sorter.sorted()) out.push(l);
    assert.deepEqual(out, ['a', `b ${long}`, 'c']);
  }
});
