import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import { type ConvertedRule, batchQuery, batchesOf, bySelectivity } from '../../src/sql/hunt.js';

/** A client that answers the two queries bySelectivity makes: the row count, and a sample of ltext. */
function sampleClient(rows: string[]): ClickHouseClient {
  const answer = (query: string) => (query.includes('count()') ? [{ n: String(rows.length) }] : rows.map((ltext) => ({ ltext })));
  return { query: async ({ query }: { query: string }) => ({ json: async () => answer(query) }) } as unknown as ClickHouseClient;
}

const rule = (name: string, literals: string[] | undefined, slots: [string, string][] = [['microsoft-windows-sysmon/operational', '1']]) =>
  ({ sql: name, slots, channels: [slots[0]![0]], ...(literals ? { literals } : {}) }) as unknown as ConvertedRule;

test('batching order: within the same event kinds, rules whose literals a sample of rows holds less often come first; rules without literals last', async () => {
  const rows = [...Array.from({ length: 90 }, (_, i) => `c:\\windows\\system32\\svchost.exe\n-k netsvcs ${i}`), ...Array.from({ length: 10 }, () => 'c:\\windows\\system32\\cmd.exe\n/c whoami')];
  const everywhere = rule('everywhere', ['c:\\windows\\']);
  const tenth = rule('tenth', ['whoami', 'mimikatz']);
  const nowhere = rule('nowhere', ['sekurlsa::']);
  const unfiltered = rule('unfiltered', undefined);
  const security = rule('security', ['c:\\windows\\'], [['security', '4688']]);
  const ordered = await bySelectivity(sampleClient(rows), [unfiltered, everywhere, security, tenth, nowhere]);
  assert.deepEqual(ordered.map((r) => r.sql), ['nowhere', 'tenth', 'everywhere', 'unfiltered', 'security']);
});

test('batches: rules of other event kinds, or without literals, share no batch (each would take the prefilter from the rest); order kept, at most 16 rules a batch', () => {
  const anyKind = { sql: 'any', literals: ['x'] } as unknown as ConvertedRule;
  const securityChannel = { sql: 'channel', channels: ['security'], literals: ['y'] } as unknown as ConvertedRule;
  const sysmon = Array.from({ length: 20 }, (_, i) => rule(`s${i}`, ['whoami']));
  const rules = [...sysmon, rule('s-none', undefined), rule('4688', ['whoami'], [['security', '4688']]), securityChannel, anyKind];
  const batches = [...batchesOf(rules)];
  assert.deepEqual(batches.flat(), rules, 'every rule once, in order');
  assert.deepEqual(batches.map((b) => b.map((r) => r.sql).join(' ')), [sysmon.slice(0, 16).map((r) => r.sql).join(' '), sysmon.slice(16).map((r) => r.sql).join(' '), 's-none', '4688', 'channel', 'any']);
  // Each batch keeps the prefilter of its rules: a PREWHERE on kinds, and on literals where its rules have them.
  for (const b of batches) {
    const sql = batchQuery(b.map((r) => ({ ...r, sql: '1' })));
    assert.equal(/PREWHERE[^]*IN \(/.test(sql), b[0]!.sql !== 'any', sql);
    assert.equal(/match\(ltext|position\(ltext/.test(sql), b[0]!.sql !== 's-none', sql);
  }
});
