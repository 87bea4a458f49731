import assert from 'node:assert/strict';
import fc from 'fast-check';
import { test } from 'node:test';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { toJson } from '../../src/common/json.js';
import { KIND, eventJson, forEachFieldItem, shapeOf } from '../../src/sql/schema.js';
import { DATA, listFiles } from '../helpers/paths.js';

/** An event's value texts and kinds as its row stores them, its JSON, and that JSON made back from its shape. */
function roundTrip(event: unknown): { vals: string[]; kinds: number[]; json: string; shape: string; back: string } {
  const view = new EvtxEvent(event);
  const vals: string[] = [];
  const kinds: number[] = [];
  forEachFieldItem(view, (_, t, k) => (vals.push(t ?? ''), kinds.push(k)));
  const json = toJson(view.toRaw());
  const shape = shapeOf(json, vals, kinds);
  return { vals, kinds, json, shape, back: eventJson(shape, vals) };
}

test('an event\'s JSON is made back exactly from its shape and values: every attack sample\'s event, and values built to confuse the references', () => {
  let events = 0;
  let jsonChars = 0;
  let shapeChars = 0;
  for (const file of listFiles(`${DATA}/evtx/attack-samples`, '.evtx')) {
    for (const r of readEvtxFile(file, { render: 'event' })) {
      const { json, shape, back } = roundTrip(r.event);
      assert.equal(back, json, file);
      events++;
      jsonChars += json.length;
      shapeChars += shape.length;
    }
  }
  assert.ok(events > 8000, `${events} events`);
  // The values are in the arrays: the shapes keep the structure (its names, which repeat from event
  // to event and compress well) and the short values: 61% of the characters.
  assert.ok(shapeChars < jsonChars * 0.65, `${shapeChars} of ${jsonChars} characters`);
  const hostile = [
    'C:\\Windows\\System32\\cmd.exe', '"quoted" \\ back', '\x01 0\x02 marker-like', 'CommandLine', '"CommandLine"', 'x"\\', 'same value here', 'same value here',
    'ends with a backslash\\', 'e\u0301 combining', '\ud83d\ude00 emoji and more', 'Data', '#attributes',
  ];
  for (const order of [hostile, [...hostile].reverse()]) {
    const event = { Event: { System: { Channel: 'Test', EventID: 1, Computer: 'same value here' }, EventData: Object.fromEntries(order.map((v, i) => [`F${i}`, v])), Other: { Nested: [order[0], { deeper: order[1] }], CommandLine: 'same value here' } } };
    const { json, back } = roundTrip(event);
    assert.equal(back, json);
  }
  assert.equal(eventJson(shapeOf('{"a":"x"}', ['zzzzzzzzzzz'], [KIND.scalar]), ['zzzzzzzzzzz']), '{"a":"x"}');
});

/** The shape as first written: each value's JSON token searched for from where the last one ended. */
function shapeByTokens(json: string, values: readonly string[], kinds: readonly number[]): string {
  let out = '';
  let from = 0;
  values.forEach((v, i) => {
    if (kinds[i] !== KIND.scalar || v.length < 8) return;
    const token = JSON.stringify(v);
    const at = json.indexOf(token, from);
    if (at < 0) return;
    out += `${json.slice(from, at)}\x01${i}\x02`;
    from = at + token.length;
  });
  return out + json.slice(from);
}

test('the shape found without making quoted tokens is the one found with them, on values built to be found in the wrong place', () => {
  // Keys and values made of the same few pieces, so that values occur inside keys and each other,
  // before and after their own places, quoted or not; pieces of few characters, escapes among them.
  const char = fc.constantFrom('a', 'b', '"', '\\', '\x01', '\n', 'é', '\ud83d', '\ude00', ' ', ':', ',');
  const piece = fc.array(char, { minLength: 4, maxLength: 9 }).map((a) => a.join(''));
  const made = (pieces: string[]) => fc.array(fc.nat(pieces.length - 1), { minLength: 1, maxLength: 3 }).map((ix) => ix.map((i) => pieces[i]).join(''));
  const events = fc.array(piece, { minLength: 1, maxLength: 3 }).chain((pieces) => fc.array(fc.tuple(made(pieces), made(pieces)), { minLength: 1, maxLength: 8 }));
  fc.assert(
    fc.property(events, (pairs) => {
      const event = { Event: { System: { Channel: 'c' }, EventData: Object.fromEntries(pairs.map(([k, v], i) => [`${k}${i}`, v])) } };
      const { vals, kinds, json, shape, back } = roundTrip(event);
      assert.equal(shape, shapeByTokens(json, vals, kinds));
      assert.equal(back, json);
    }),
    { numRuns: 3000 },
  );
});
