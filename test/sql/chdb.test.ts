import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { planHuntUnits } from '../../src/hunt/hunt.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { convertRules, huntInClickHouse } from '../../src/sql/hunt.js';
import { ingest } from '../../src/sql/ingest.js';
import { chdbClient } from '../helpers/chdb.js';
import { PARITY_RULE_DIRS, detectionKey, distinctRegressionSamples, inProcessKeys, keyDifferences } from '../helpers/sql-parity.js';

test('parity on ClickHouse 26.7 (chDB): every SigmaHQ regression sample ingested and hunted there with SigmaHQ\'s rules gives the in-process engine\'s detections', { timeout: 900_000 }, async () => {
  const pipeline = loadPipeline(DEFAULT_PIPELINE);
  const files = distinctRegressionSamples();
  const { converted } = convertRules(loadRuleSet(PARITY_RULE_DIRS, pipeline).rules, pipeline);
  const { client, close } = chdbClient();
  try {
    const [{ version }] = (await (await client.query({ query: 'SELECT version() AS version', format: 'JSONEachRow' })).json()) as { version: string }[];
    assert.match(version, /^2[4-9]\./);
    const report = await ingest(client, planHuntUnits(files.map((path) => ({ path, size: statSync(path).size }))), () => undefined);
    assert.equal(report.files, files.length);
    // Picked by the server's version: the text columns compressed with ZSTD (18.16 has no column codecs).
    const codecs = (await (await client.query({ query: "SELECT name, compression_codec AS c FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name IN ('vals', 'shape', 'host')", format: 'JSONEachRow' })).json()) as { name: string; c: string }[];
    assert.deepEqual(Object.fromEntries(codecs.map((r) => [r.name, r.c])), { host: '', shape: 'CODEC(ZSTD(3))', vals: 'CODEC(ZSTD(3))' });
    const local = inProcessKeys(files, converted.map((c) => c.rule));
    const remote = new Set<string>();
    const t = Date.now();
    for await (const d of huntInClickHouse(client, converted)) remote.add(detectionKey(d));
    console.log(`chDB ${version}: ${converted.length} rules in ${Date.now() - t} ms; ${local.size} detections in-process, ${remote.size} in chDB`);
    assert.ok(local.size > 150);
    assert.deepEqual(keyDifferences(local, remote), { missing: [], extra: [] });
  } finally {
    close();
  }
});
