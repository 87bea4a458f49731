import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { AhoCorasick } from '../../src/hunt/aho-corasick.js';
import { RuleIndex } from '../../src/hunt/rule-index.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { DATA, listFiles } from '../helpers/paths.js';

test('Aho-Corasick finds every occurrence of every literal, overlapping ones too', () => {
  const literals = ['he', 'she', 'his', 'hers', 'e'];
  const found = new Map<string, number>();
  new AhoCorasick(literals).search('ushers and his', (id) => found.set(literals[id]!, (found.get(literals[id]!) ?? 0) + 1));
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
