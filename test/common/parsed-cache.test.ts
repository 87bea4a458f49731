import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { parsedOnce } from '../../src/common/parsed-cache.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';

test('a pipeline read back from the cache is the pipeline parsing gives', () => {
  process.env.SPOOR_HOME = mkdtempSync(join(tmpdir(), 'spoor-home-'));
  const first = loadPipeline(DEFAULT_PIPELINE);
  assert.equal(readdirSync(join(process.env.SPOOR_HOME, 'cache', 'pipelines')).length, 1);
  let parsed = 0;
  const text = 'name: x\nlogsources: [{logsource: {product: windows}}]\n';
  parsedOnce('pipelines', text, (t) => (parsed++, parse(t)));
  assert.deepEqual(parsedOnce('pipelines', text, (t) => (parsed++, parse(t))), parse(text));
  assert.equal(parsed, 1, 'the second read came from the cache');
  // The sources' predicates are functions made from their conditions: the data is compared.
  const data = (p: ReturnType<typeof loadPipeline>) => ({ ...p, logsources: p.logsources.map(({ belongs, belongsBesidesIndex, ...rest }) => rest) });
  assert.deepEqual(data(loadPipeline(DEFAULT_PIPELINE)), data(first));
});

test('a document JSON cannot hold exactly is parsed every time, and an unreadable cache file is parsed over', () => {
  process.env.SPOOR_HOME = mkdtempSync(join(tmpdir(), 'spoor-home-'));
  let parsed = 0;
  const text = 'limit: .inf\nnothing: ~\n';
  for (let i = 0; i < 2; i++) assert.deepEqual(parsedOnce('pipelines', text, (t) => (parsed++, parse(t))), { limit: Infinity, nothing: null });
  assert.equal(parsed, 2);
  const other = 'a: 1\n';
  parsedOnce('pipelines', other, parse);
  const dir = join(process.env.SPOOR_HOME, 'cache', 'pipelines');
  for (const f of readdirSync(dir)) writeFileSync(join(dir, f), '{"a": 1');
  assert.deepEqual(parsedOnce('pipelines', other, (t) => (parsed++, parse(t))), { a: 1 });
  assert.equal(parsed, 3);
});
