import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Indicator, makeIndicator } from '../../src/hunt/ioc/indicator.js';
import { IocMatcher } from '../../src/hunt/ioc/matcher.js';
import { iocQueries } from '../../src/sql/hunt.js';

const indicator = (value: string, feed = 'feed.txt'): Indicator => makeIndicator(value, undefined, feed)!;

/** The literals a query's SQL looks for in ltext: regular expressions of alternatives, or a search each. */
function lookedFor(sql: string): string[] {
  const unquote = (s: string) => s.replace(/\\(.)/g, '$1');
  const regexes = [...sql.matchAll(/match\(ltext, '((?:[^'\\]|\\.)*)'\)/g)];
  if (regexes.length) return regexes.flatMap((m) => unquote(m[1]!).split(/(?<!\\)\|/).map(unquote));
  return [...sql.matchAll(/position\(ltext, '((?:[^'\\]|\\.)*)'\)/g)].map((m) => unquote(m[1]!));
}

test('IoC queries: each indicator is reported by exactly one query, one whose SQL looks for its text, when a row holds indicators of several slices', () => {
  const indicators = [
    ...Array.from({ length: 2500 }, (_, i) => indicator(`d-${i}.example.net`)),
    indicator('203.0.113.0/24'),
    indicator('EVIL.example.org', 'other.txt'),
    indicator('evil.example.org', 'third.txt'),
  ];
  const matcher = new IocMatcher(indicators);
  const queries = iocQueries(matcher);
  assert.equal(queries.length, 3);
  // One row with indicators from every slice, the same name from two feeds, and an address in a range.
  const hits = matcher.matchText('GET http://d-5.example.net/a d-1500.example.net d-2499.example.net 203.0.113.7 www.evil.example.org');
  assert.deepEqual(hits.map((h) => h.indicator.value).sort(), ['203.0.113.0/24', 'd-1500.example.net', 'd-2499.example.net', 'd-5.example.net', 'evil.example.org', 'evil.example.org']);
  for (const hit of hits) {
    const reporting = queries.filter((q) => q.reports(hit.indicator));
    assert.equal(reporting.length, 1, `${hit.indicator.value} (${hit.indicator.feed}) reported by ${reporting.length} queries`);
    // The query that reports the hit must be one that fetches the row: its SQL looks for the indicator's text.
    const text = hit.indicator.type === 'cidr' ? '203.0.113.' : hit.indicator.value;
    assert.ok(lookedFor(reporting[0]!.sql).includes(text), `${hit.indicator.value}: not looked for by the query that reports it`);
  }
  // Every query reports some indicator, and the slices together look for each literal once.
  const looked = queries.flatMap((q) => lookedFor(q.sql));
  assert.equal(looked.length, new Set(looked).size);
  assert.equal(looked.length, 2500 + 2);
});

test('IoC queries: indicators without a sound text (IPv6) take one full scan that reports every hit', () => {
  const matcher = new IocMatcher([indicator('2001:db8::1'), indicator('d.example.net')]);
  const queries = iocQueries(matcher);
  assert.equal(queries.length, 1);
  assert.doesNotMatch(queries[0]!.sql, /WHERE/);
  for (const hit of matcher.matchText('2001:db8::1 d.example.net')) assert.ok(queries[0]!.reports(hit.indicator));
});
