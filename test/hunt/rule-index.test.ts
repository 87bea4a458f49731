import assert from 'node:assert/strict';
import fc from 'fast-check';
import { test } from 'node:test';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { AhoCorasick } from '../../src/sigma/aho-corasick.js';
import { RuleIndex } from '../../src/hunt/rule-index.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { DATA, listFiles } from '../helpers/paths.js';

test('Aho-Corasick finds every occurrence of every literal, overlapping ones too', () => {
  const literals = ['he', 'she', 'his', 'hers', 'e'];
  const found = new Map<string, number>();
  new AhoCorasick(literals).search('ushers and his', (id) => {
    found.set(literals[id]!, (found.get(literals[id]!) ?? 0) + 1);
  });
  // Brute force as the oracle.
  const expected = new Map<string, number>();
  for (const l of literals) for (let i = 0; i + l.length <= 'ushers and his'.length; i++) if ('ushers and his'.startsWith(l, i)) expected.set(l, (expected.get(l) ?? 0) + 1);
  assert.deepEqual(found, expected);
});

test('the index and its literal prefilter find exactly what running every rule on every event finds', { timeout: 300_000 }, () => {
  const rules = loadRuleSet([`${DATA}/sigma/rules/windows`], loadPipeline(DEFAULT_PIPELINE)).rules;
  const index = new RuleIndex(rules);
  const files = listFiles(`${DATA}/evtx/attack-samples`, '.evtx').filter((_, i) => i % 5 === 0);
  let events = 0;
  let detections = 0;
  for (const file of files) {
    for (const r of readEvtxFile(file, { render: 'event' })) {
      const e = new EvtxEvent(r.event);
      const brute = rules.filter((rule) => rule.match(e)).map((x) => x.rule.id).sort();
      const indexed = index.match(e).map((x) => x.rule.id).sort();
      assert.deepEqual(indexed, brute, `${file}: record ${r.recordId}`);
      events++;
      detections += brute.length;
    }
  }
  console.log(`${events} events from ${files.length} files, ${detections} detections, the same both ways`);
  assert.ok(detections > 50);
});

test('the Aho-Corasick automaton agrees with a brute-force case-insensitive search on random texts', () => {
  // Small alphabets make overlaps and shared prefixes common; non-ASCII characters share classes.
  const char = fc.constantFrom(...'abAB.\\-é€ſ😀'.split(''), '\u212a', 'k', 's');
  const word = fc.array(char, { minLength: 1, maxLength: 5 }).map((a) => a.join('').toLowerCase());
  fc.assert(fc.property(fc.uniqueArray(word, { minLength: 1, maxLength: 20 }), fc.array(char, { maxLength: 40 }).map((a) => a.join('')), (literals, text) => {
    const found = new Set<number>();
    new AhoCorasick(literals).search(text, (id) => {
      found.add(id);
    });
    const folded = text.toLowerCase();
    literals.forEach((lit, id) => {
      // Must find every literal the rules would (lower-cased containment); may report more (shared classes, ſ as s).
      if (folded.includes(lit)) assert.ok(found.has(id), `${JSON.stringify(lit)} in ${JSON.stringify(text)}`);
    });
  }), { numRuns: 2000 });
});

test('an automaton too large for 16-bit cells finds exactly what a brute-force search finds, by every method', () => {
  // 12,000 random ten-character literals over a small alphabet: about 90,000 states, so 32-bit cells.
  let seed = 7;
  const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const alphabet = 'abcdefghij\\:.-_0123';
  const text = (n: number) => Array.from({ length: n }, () => alphabet[random(alphabet.length)]).join('');
  const literals = [...new Set(Array.from({ length: 12000 }, () => text(10)))];
  const automaton = new AhoCorasick(literals);
  assert.ok(automaton.tables().delta instanceof Int32Array, 'the table has 32-bit cells');
  // Every state where a literal ends is reached by that literal alone.
  literals.forEach((l, id) => {
    const found = new Set<number>();
    automaton.search(l, (x) => void found.add(x));
    assert.ok(found.has(id), l);
  });
  for (let t = 0; t < 300; t++) {
    // Texts that hold some literals (upper-cased, to test case folding) amid random characters.
    const hay = [text(random(40)), literals[random(literals.length)]!.toUpperCase(), text(random(40)), literals[random(literals.length)]!, text(random(20))].join('');
    const lower = hay.toLowerCase();
    const expected = new Set(literals.flatMap((l, id) => (lower.includes(l) ? [id] : [])));
    const found = new Set<number>();
    automaton.search(hay, (id) => void found.add(id));
    assert.deepEqual([...found].sort((a, b) => a - b), [...expected].sort((a, b) => a - b));
    assert.equal(automaton.occursIn(hay), expected.size > 0);
    const ends: number[] = [];
    automaton.positions(hay, 0, (end) => ends.push(end));
    const expectedEnds = [...new Set([...expected].map((id) => literals[id]!).flatMap((l) => [...lower.matchAll(new RegExp(l.replace(/[\\.\-:]/g, '\\$&'), 'g'))].map((m) => m.index + l.length - 1)))].sort((a, b) => a - b);
    assert.deepEqual(ends, expectedEnds);
    // Exact case: only the literal written as it is (the lower-case one) counts.
    assert.equal(automaton.holdsExactly(hay), literals.some((l) => hay.includes(l)));
  }
});

test('an automaton over literal prefixes finds what whole literals would: every one that occurs, and in ASCII text only those; it holds one exactly where includes says', () => {
  // Few characters, so that literals share prefixes and tails share their first characters too.
  const char = fc.constantFrom(...'abAB.\\-é€ſ😀'.split(''), '\u212a', 'k', 's');
  const ascii = fc.constantFrom(...'abAB.\\-ks'.split(''));
  const word = fc.array(char, { minLength: 1, maxLength: 12 }).map((a) => a.join('').toLowerCase());
  const texts = fc.oneof(fc.array(char, { maxLength: 60 }), fc.array(ascii, { maxLength: 60 })).map((a) => a.join(''));
  fc.assert(fc.property(fc.uniqueArray(word, { minLength: 1, maxLength: 30 }), texts, fc.integer({ min: 1, max: 6 }), (literals, text, prefix) => {
    const found = new Set<number>();
    const automaton = new AhoCorasick(literals, undefined, prefix);
    automaton.search(text, (id) => void found.add(id));
    // Exact case, tails walked: a literal written as it is, wherever the text holds one.
    assert.equal(automaton.holdsExactly(text), literals.some((lit) => text.includes(lit)), `${JSON.stringify(literals)} in ${JSON.stringify(text)}`);
    const folded = text.toLowerCase();
    const expected = literals.flatMap((lit, id) => (folded.includes(lit) ? [id] : []));
    for (const id of expected) assert.ok(found.has(id), `${JSON.stringify(literals[id])} in ${JSON.stringify(text)}`);
    // A tail is compared, not assumed: in ASCII text a report means the whole literal is there.
    if (/^[\x00-\x7f]*$/.test(text)) assert.deepEqual([...found].sort((a, b) => a - b), expected);
  }), { numRuns: 3000 });
});
