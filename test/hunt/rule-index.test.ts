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
