import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalHosts, mergeHostCounts } from '../../src/report/hosts.js';

test('hosts: a NetBIOS name and the one DNS name of its machine are one host, names equal but for case are one; an ambiguous short name stays as it is', () => {
  const counts = new Map([['EXCH01', 6], ['EXCH01.corp.example', 6], ['exch01.CORP.example', 1], ['DC01', 2], ['dc01', 5], ['WEB', 1], ['web.a.example', 1], ['web.b.example', 1], ['unknown host', 13], ['10.0.0.5', 1]]);
  assert.deepEqual(Object.fromEntries(canonicalHosts(counts)), {
    EXCH01: 'EXCH01.corp.example', 'EXCH01.corp.example': 'EXCH01.corp.example', 'exch01.CORP.example': 'EXCH01.corp.example',
    DC01: 'dc01', dc01: 'dc01', WEB: 'WEB', 'web.a.example': 'web.a.example', 'web.b.example': 'web.b.example', 'unknown host': 'unknown host', '10.0.0.5': '10.0.0.5',
  });
  assert.deepEqual(Object.fromEntries(mergeHostCounts(counts)), { 'EXCH01.corp.example': 13, dc01: 7, WEB: 1, 'web.a.example': 1, 'web.b.example': 1, 'unknown host': 13, '10.0.0.5': 1 });
});
