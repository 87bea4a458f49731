import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet, type RuleSet } from '../../src/sigma/ruleset.js';
import { DATA, listFiles } from '../helpers/paths.js';

const summary = (set: RuleSet) => ({
  rules: set.rules.map((r) => [r.rule.id, r.alternatives.map((a) => a.literals ?? null)]),
  problems: set.problems.map((p) => `${p.file}:${p.line}: ${p.reason}`),
});

test('a run that trusts the cache (rules compiled on first use) loads and matches exactly as one that compiles everything', { timeout: 300_000 }, () => {
  process.env.SPOOR_HOME = mkdtempSync(join(tmpdir(), 'spoor-home-'));
  const dirs = [`${DATA}/sigma/rules/windows/process_creation`, `${DATA}/sigma/rules/windows/powershell`];
  const pipeline = loadPipeline(DEFAULT_PIPELINE);
  const eager = loadRuleSet(dirs, pipeline, { eager: true });
  const late: string[] = [];
  const lazy = loadRuleSet(dirs, pipeline, { onLateProblem: (p) => late.push(p.reason) });
  assert.deepEqual(summary(lazy), summary(eager));
  let detections = 0;
  for (const file of listFiles(`${DATA}/evtx/attack-samples`, '.evtx').filter((_, i) => i % 4 === 0)) {
    for (const r of readEvtxFile(file, { render: 'event' })) {
      const e = new EvtxEvent(r.event);
      const want = eager.rules.filter((x) => x.match(e)).map((x) => x.rule.id);
      assert.deepEqual(lazy.rules.filter((x) => x.match(e)).map((x) => x.rule.id), want, `${file}: record ${r.recordId}`);
      detections += want.length;
    }
  }
  assert.deepEqual(late, []);
  assert.ok(detections > 20, `${detections} detections`);
});

test('a rule that fails to compile is reported on every run, cache or not, by file and line', () => {
  process.env.SPOOR_HOME = mkdtempSync(join(tmpdir(), 'spoor-home-'));
  const dir = mkdtempSync(join(tmpdir(), 'spoor-rules-'));
  mkdirSync(dir, { recursive: true });
  copyFileSync(listFiles(`${DATA}/sigma/rules/windows/process_creation`, '.yml')[0]!, join(dir, 'good.yml'));
  writeFileSync(join(dir, 'bad.yml'), 'title: Bad\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  sel:\n    Image|nosuchmodifier: x\n  condition: sel\n');
  const pipeline = loadPipeline(DEFAULT_PIPELINE);
  for (const run of ['first', 'cached']) {
    const set = loadRuleSet([dir], pipeline);
    assert.equal(set.rules.length, 1, run);
    assert.deepEqual(set.problems.map((p) => [p.file, p.line, p.reason]), [[join(dir, 'bad.yml'), 7, 'Image|nosuchmodifier: unknown modifier "nosuchmodifier"']], run);
  }
});
