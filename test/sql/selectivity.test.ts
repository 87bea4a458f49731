import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import { type ConvertedRule, bySelectivity } from '../../src/sql/hunt.js';

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
