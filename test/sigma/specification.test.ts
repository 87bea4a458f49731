import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCorrelation } from '../../src/sigma/correlation.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { readRuleFile } from '../../src/sigma/rule.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { DATA, listFiles } from '../helpers/paths.js';

const SCHEMA_TESTS = `${DATA}/sigma/specification/tests/schema`;

test("the specification's schema test documents read as the kinds they are", () => {
  const files = listFiles(SCHEMA_TESTS, '.yml');
  assert.ok(files.length >= 10);
  for (const file of files) {
    const { rules, problems } = readRuleFile(file);
    assert.deepEqual(problems, [], file);
    assert.equal(rules.length, 1, file);
    const kind = file.includes('/correlation/') ? 'correlation' : file.includes('/filter/') ? 'filter' : 'detection';
    assert.equal(rules[0]!.kind, kind, file);
    if (kind === 'correlation') {
      const c = parseCorrelation(rules[0]!);
      assert.ok(c.timespanMs > 0 && c.refs.length > 0 && c.groupBy.length > 0, file);
    }
  }
});

test("the specification's detection rule examples load and compile with the Windows pipeline", () => {
  // Each example on its own: they are separate documents, and two of them share an id (loaded together, the second is set aside as a copy).
  let loaded = 0;
  for (const file of listFiles(`${SCHEMA_TESTS}/rules`, '.yml')) {
    const set = loadRuleSet([file], loadPipeline(DEFAULT_PIPELINE));
    // rule_ecs.yml uses ECS field names and a non-Windows log source: set aside for that reason alone.
    for (const p of set.problems) assert.match(p.reason, /unsupported logsource/, `${p.file}: ${p.reason}`);
    loaded += set.rules.length;
  }
  assert.ok(loaded >= 1);
});
