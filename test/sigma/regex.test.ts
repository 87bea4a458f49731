import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import { SafeRegex } from '../../src/sigma/regex.js';

const RE2 = createRequire(import.meta.url)('re2') as new (pattern: string, flags?: string) => { test(s: string): boolean };

test('`.` repeated (`.{n}`, `.{n,}`, `.{n,m}`) is decided by a scan exactly as RE2 decides it (line feeds, other line ends, surrogate pairs, lone surrogates, the s flag)', () => {
  const piece = fc.constantFrom('a', 'Z', ' ', '\n', '\r', '\u2028', '\u{1F600}', '\ud800', '\udc00', 'é');
  const quantifier = fc.tuple(fc.nat(6), fc.constantFrom('', ',', ',+1', ',+3')).map(([n, q]) => (q === '' ? `{${n}}` : q === ',' ? `{${n},}` : `{${n},${n + Number(q.slice(2))}}`));
  fc.assert(fc.property(quantifier, fc.constantFrom('', 'i', 's', 'ims'), fc.array(piece, { maxLength: 14 }), (q, flags, pieces) => {
    const pattern = '.' + q;
    const text = pieces.join('');
    assert.equal(SafeRegex.compile(pattern, flags).test(text), new RE2(pattern, flags + 'u').test(text), `/${pattern}/${flags} on ${JSON.stringify(text)}`);
  }), { numRuns: 5000 });
  // The size that made RE2 slow, at its edges.
  const long = 'x'.repeat(999);
  for (const text of [long, long + 'y', long + '\n' + long, '\u{1F600}'.repeat(1000), '\u{1F600}'.repeat(999) + '\n']) {
    assert.equal(SafeRegex.compile('.{1000,}', '').test(text), new RE2('.{1000,}', 'u').test(text), `.{1000,} on ${text.length} code units`);
  }
});
