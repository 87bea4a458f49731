import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { readW3cLines } from '../../src/evidence/w3c.js';
import { textFilter } from '../../src/hunt/text-filter.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-filter-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Texts from a small alphabet (so that literals occur often), in both cases, with line ends and a non-ASCII letter or two.
const char = fc.constantFrom(...'aAbB~_/.?xX \n', 'é', 'K');
const text = fc.array(char, { maxLength: 400 }).map((cs) => cs.join(''));
const literal = fc.array(fc.constantFrom(...'ab~_/.x'), { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''));

test('text filter: a line is a candidate exactly when it holds a literal, ignoring case (brute force oracle, ASCII blocks), by anchors and, once they stop too often, by its regular expression', () => {
  fc.assert(
    fc.property(fc.array(literal, { minLength: 1, maxLength: 20 }), text, fc.boolean(), (lits, t, again) => {
      const ascii = !/[^\x00-\x7f]/.test(t);
      const filter = textFilter(lits)!;
      // A first block of dense anchors (this small alphabet's) turns the filter to its regular expression for the next.
      if (again) filter.hits(`${lits.join(' ')} `.repeat(80), 0, true);
      const hits = filter.hits(t, 0, ascii);
      let pos = 0;
      for (const line of t.split('\n')) {
        const holds = lits.some((l) => line.toLowerCase().includes(l.toLowerCase()));
        const end = pos + line.length;
        const hit = hits === undefined || hits.some((h) => h >= pos && h < end);
        // Sound: never passes over a line that holds a literal; exact on ASCII text.
        if (holds) assert.ok(hit, `${JSON.stringify(line)} holds one of ${JSON.stringify(lits)}`);
        else if (ascii) assert.ok(!hit, `${JSON.stringify(line)} holds none of ${JSON.stringify(lits)}`);
        pos = end + 1;
      }
    }),
    { numRuns: 3000 },
  );
});

test('readW3cLines with a filter: the lines it keeps are those holding a literal, the others are counted; line numbers unchanged', () => {
  fc.assert(
    fc.property(fc.array(literal, { minLength: 1, maxLength: 5 }), fc.array(fc.array(fc.constantFrom(...'aAbB~_/.x -'), { maxLength: 30 }).map((c) => c.join('')), { maxLength: 60 }), fc.boolean(), (lits, rows, comma) => {
      const file = join(tmp, 'log.txt');
      const header = comma ? '#Log-type: Test\n#Fields: a,b\n' : '#Fields: a b\n';
      writeFileSync(file, header + rows.join('\n') + '\n');
      const all = [...readW3cLines(file, () => {})];
      let skipped = 0;
      const filter = textFilter(lits)!;
      const kept = [...readW3cLines(file, () => {}, { filterFor: () => filter, onSkipped: () => skipped++ })];
      const expected = all.filter((l) => lits.some((x) => l.text.toLowerCase().includes(x)));
      assert.deepEqual(kept.map((l) => [l.lineNo, l.text]), expected.map((l) => [l.lineNo, l.text]));
      assert.equal(kept.length + skipped, all.length);
    }),
    { numRuns: 500 },
  );
});
