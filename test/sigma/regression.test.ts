import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { parseConcatenatedJson } from '../../src/evidence/json.js';
import { DATA, listFiles } from '../helpers/paths.js';

/**
 * SigmaHQ's own acceptance test: for every info.yml under regression_data/, the rule it names fires
 * on the sample (EVTX) and on its JSON twin, at least match_count times where given (SigmaHQ's
 * runner treats it as a minimum), else at least once.
 */
const RULE_DIRS = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-compliance', 'rules-dfir', 'rules-placeholder'].map((d) => `${DATA}/sigma/${d}`);

interface Info {
  rule_metadata: { id: string; title?: string }[];
  regression_tests_info: { path: string; match_count?: number }[];
}

test('every SigmaHQ regression sample makes its rule fire, on the EVTX and on the JSON', { timeout: 300_000 }, () => {
  const ruleSet = loadRuleSet(RULE_DIRS, loadPipeline(DEFAULT_PIPELINE));
  const byId = new Map(ruleSet.rules.map((r) => [r.rule.id, r]));
  const notLoaded = new Map(ruleSet.problems.filter((p) => p.id).map((p) => [p.id!, p.reason]));
  const infos = listFiles(`${DATA}/sigma/regression_data`, 'info.yml');
  assert.ok(infos.length >= 150);
  const misses: string[] = [];
  const countDiffers: string[] = [];
  let samples = 0;
  for (const infoFile of infos) {
    const info = parse(readFileSync(infoFile, 'utf8')) as Info;
    for (const meta of info.rule_metadata) {
      const rule = byId.get(meta.id);
      for (const t of info.regression_tests_info) {
        samples++;
        const evtx = join(DATA, 'sigma', t.path);
        const where = relative(DATA, dirname(evtx));
        if (!rule) {
          misses.push(`${where}: rule ${meta.id} not loaded: ${notLoaded.get(meta.id) ?? 'not found'}`);
          continue;
        }
        const fromEvtx = [...readEvtxFile(evtx, { render: 'event' })].filter((r) => rule.match(new EvtxEvent(r.event))).length;
        const json = parseConcatenatedJson(readFileSync(evtx.replace(/\.evtx$/, '.json'), 'utf8'));
        const fromJson = json.filter((o) => rule.match(new EvtxEvent(o))).length;
        const want = t.match_count ?? 1;
        if (fromEvtx < want || fromJson < want) misses.push(`${where}: ${meta.title ?? meta.id}: ${fromEvtx} hits on EVTX, ${fromJson} on JSON, want ${want}`);
        else if (t.match_count !== undefined && fromEvtx !== t.match_count) countDiffers.push(`${where}: ${fromEvtx} hits, match_count ${t.match_count}`);
      }
    }
  }
  console.log(`regression: ${samples - misses.length}/${samples} samples fire their rule`);
  for (const c of countDiffers) console.log(`  more hits than match_count: ${c}`);
  for (const m of misses) console.log(`  MISS ${m}`);
  assert.deepEqual(misses, []);
});
