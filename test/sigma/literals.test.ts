import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { detectionLiteralOptions, detectionLiterals } from '../../src/sigma/compile.js';
import { regexFacts, regexLiterals } from '../../src/sigma/literals.js';
import { compileFieldTest, loweredValues } from '../../src/sigma/modifiers.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { SafeRegex } from '../../src/sigma/regex.js';
import { DATA, listFiles } from '../helpers/paths.js';

/** A regular expression and a text it matches, built together so the text is an independent witness. */
type Sample = { re: string; text: string };

const literalChar = fc.constantFrom(...'abcdesXYZ019 -_/'.split('')).map((c): Sample => ({ re: c, text: c }));
const escaped = fc.constantFrom('.', '\\', '(', '$', '|', '+').map((c): Sample => ({ re: '\\' + c, text: c }));
const hexEscape = fc.constantFrom('a', 'Z', '-').map((c): Sample => ({ re: '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'), text: c }));
const classAtom = fc.constantFrom(...'abq9'.split('')).map((c): Sample => ({ re: `[${c}x-z]`, text: c }));
const dot = fc.constantFrom('a', 'Q', '.').map((c): Sample => ({ re: '.', text: c }));
const digit = fc.constantFrom('0', '7').map((c): Sample => ({ re: '\\d', text: c }));

const regexSample: fc.Memo<Sample> = fc.memo((depth) => {
  const atom = depth <= 1 ? fc.oneof(literalChar, literalChar, escaped, hexEscape, classAtom, dot, digit) : fc.oneof(literalChar, literalChar, escaped, classAtom, group(depth));
  const quantified = fc.tuple(atom, fc.constantFrom('', '', '', '?', '*', '+', '{2}', '{0,2}', '{1,3}'), fc.nat(3)).map(([a, q, n]): Sample => {
    const min = { '': 1, '?': 0, '*': 0, '+': 1, '{2}': 2, '{0,2}': 0, '{1,3}': 1 }[q]!;
    const max = { '': 1, '?': 1, '*': 3, '+': 3, '{2}': 2, '{0,2}': 2, '{1,3}': 3 }[q]!;
    const count = min + (n % (max - min + 1));
    const re = q && a.re.length > 1 && !a.re.startsWith('(') && !a.re.startsWith('[') && !a.re.startsWith('\\') ? `(?:${a.re})${q}` : a.re + q;
    return { re, text: a.text.repeat(count) };
  });
  return fc.array(quantified, { minLength: 1, maxLength: 8 }).map((parts) => ({ re: parts.map((p) => p.re).join(''), text: parts.map((p) => p.text).join('') }));
});

function group(depth: number): fc.Arbitrary<Sample> {
  return fc.tuple(fc.array(regexSample(depth - 1), { minLength: 1, maxLength: 3 }), fc.nat(), fc.constantFrom('(', '(?:')).map(([branches, pick, open]) => ({
    re: open + branches.map((b) => b.re).join('|') + ')',
    text: branches[pick % branches.length]!.text,
  }));
}

test('literals of a regular expression occur in every text it matches (random expressions with their witnesses)', () => {
  fc.assert(fc.property(regexSample(3), fc.constantFrom('', 'i'), ({ re, text }, flags) => {
    // RE2: nested random quantifiers would make a backtracking engine take exponential time.
    assert.ok(SafeRegex.compile(re, flags).test(text), `the generator's witness: /${re}/ on ${JSON.stringify(text)}`);
    const { literals: lits, minLength } = regexFacts(flags ? `(?i)${re}` : re);
    if (lits) assert.ok(lits.some((l) => text.toLowerCase().includes(l)), `/${re}/ matches ${JSON.stringify(text)}, which has none of ${JSON.stringify(lits)}`);
    assert.ok(text.length >= minLength, `/${re}/ matches ${JSON.stringify(text)}, shorter than ${minLength}`);
  }), { numRuns: 5000 });
});

test('a |re test skips RE2 only where RE2 would not match (random expressions, their witnesses and other texts, ſ for s)', () => {
  const noEvent = { get: () => undefined, values: () => [] };
  const text = fc.array(fc.constantFrom(...'abcXYZ01 -_/.\\'.split(''), 'ſ', 'K', 'İ'), { maxLength: 30 }).map((a) => a.join(''));
  fc.assert(fc.property(regexSample(3), fc.constantFrom('', 'i'), text, ({ re, text: witness }, flags, other) => {
    const field = compileFieldTest(flags ? ['re', 'i'] : ['re'], [re]);
    const plain = SafeRegex.compile(re, flags);
    for (const t of [witness, other, witness.replace(/s/g, 'ſ'), other + witness.toUpperCase()]) assert.equal(field(t, noEvent), plain.test(t), `/${re}/${flags} on ${JSON.stringify(t)}`);
  }), { numRuns: 3000 });
});

test('regular expressions yield the fewest characters a match has', () => {
  const cases: [string, number][] = [
    ['.{1000,}', 1000],
    ['^ab(c|de)+\\d{2,}$', 5],
    ['(?i)\\bfoo\\b|x?', 0],
    ['a(?=bcd)\\1[xyz]{3}\\Qlit\\E', 7],
    ['\\p{L}+\\s\\x41', 3],
  ];
  for (const [re, expected] of cases) assert.equal(regexFacts(re).minLength, expected, re);
});

test('regular expressions yield the literals they require', () => {
  const cases: [string, string[] | undefined][] = [
    ['APT\\d', ['apt']],
    ['\\\\Windows\\\\__1\\d{9}\\.\\d{1,7}$', ['\\windows\\__1']],
    ['(?i)(ipfs\\.io/|ipfs\\.io\\s).+@', ['ipfs.io/', 'ipfs.io']],
    ['Invoke-(Expression|Command)', ['invoke-']],
    ['(?:foo|bar)baz', ['baz']],
    ['(?<name>foo|bar)baz', ['baz']],
    ['(?P<name>food|bard)ba', ['food', 'bard']],
    ['\\x41\\x42C', ['abc']],
    ['abc?d', undefined], // "ab" and "d" are too short to prefilter on
    ['x(?=lookahead)y', undefined],
    ['(.){200,}', undefined],
    ['(^0oa.*|[a-z]+@[a-z]+)', undefined], // a branch without a literal
  ];
  for (const [re, expected] of cases) assert.deepEqual(regexLiterals(re), expected, re);
});

test('every literal set a rule offers its prefilter holds a literal of every event the rule matches (SigmaHQ regression samples, attack samples)', { timeout: 300_000 }, () => {
  const dirs = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-dfir'].map((d) => `${DATA}/sigma/${d}`);
  const rules = loadRuleSet(dirs, loadPipeline(DEFAULT_PIPELINE)).rules;
  // SigmaHQ's samples are labelled matches of their rules; the attack samples add matches of others.
  const files = [...listFiles(`${DATA}/sigma/regression_data`, '.evtx'), ...listFiles(`${DATA}/evtx/attack-samples`, '.evtx').filter((_, i) => i % 3 === 0)];
  let checked = 0;
  let withOptions = 0;
  for (const file of files) {
    for (const r of readEvtxFile(file, { render: 'event' })) {
      const event = new EvtxEvent(r.event);
      const texts = loweredValues(event);
      for (const rule of rules) {
        for (const alt of rule.alternatives) {
          if (!alt.belongs(event) || !alt.matches(event)) continue;
          checked++;
          if (alt.literalOptions.length > 1) withOptions++;
          for (const set of [...alt.literalOptions, ...(alt.literals ? [alt.literals] : [])]) {
            assert.ok(set.some((lit) => texts.some((t) => t.includes(lit))), `${file} record ${r.recordId}: ${rule.rule.title} matches, but holds none of ${JSON.stringify(set)}`);
          }
        }
      }
    }
  }
  console.log(`${checked} matches checked, ${withOptions} of rules offering several sets`);
  assert.ok(checked > 300 && withOptions > 100, `${checked} matches, ${withOptions} with several sets: too few to show anything`);
});

test('a detection offers one literal set per part of an AND and the unions of one per branch of an OR', () => {
  const detection = {
    image: { 'Image|endswith': ['\\powershell.exe', '\\pwsh.exe'] },
    cmd: { 'CommandLine|contains': ' -encodedcommand ' },
    parent: { 'ParentImage|endswith': '\\w3wp.exe' },
    condition: 'image and (cmd or parent)',
  };
  const sets = detectionLiteralOptions(detection).map((s) => [...s].sort());
  assert.deepEqual(new Set(sets.map((s) => JSON.stringify(s))), new Set([JSON.stringify(['\\powershell.exe', '\\pwsh.exe']), JSON.stringify([' -encodedcommand ', '\\w3wp.exe'])]));
  assert.deepEqual(detectionLiteralOptions({ a: { Image: '*' }, condition: 'not a' }), []);
});

test('a search that needs no text of its own (a short event id, a negation) leaves its siblings\' literals to the rule (SigmaHQ\'s "Mimikatz Use": keywords and not filter)', () => {
  const detection = { keywords: ['sekurlsa::', 'Kiwi Legit Printer'], filter: { EventID: 15 }, condition: 'keywords and not filter' };
  assert.deepEqual(detectionLiterals(detection), ['sekurlsa::', 'kiwi legit printer']);
  assert.deepEqual(detectionLiterals({ ...detection, condition: 'keywords and filter' }), ['sekurlsa::', 'kiwi legit printer']);
  assert.deepEqual(detectionLiterals({ ...detection, condition: 'all of them' }), ['sekurlsa::', 'kiwi legit printer']);
  // Either branch may match alone: the one without text leaves the rule none.
  assert.equal(detectionLiterals({ ...detection, condition: 'keywords or filter' }), undefined);
  assert.equal(detectionLiterals({ ...detection, condition: 'not filter' }), undefined);
});

test('a list of contains values, short (searched value by value) or long (in one pass, from 16 values on), matches exactly where a search per value does (case, ſ, Kelvin, İ, Σ, emoji)', () => {
  const noEvent = { get: () => undefined, values: () => [] };
  const char = fc.constantFrom(...'abAB. -'.split(''), 'é', 'ſ', 's', '\u212a', 'k', 'İ', 'i', 'Σ', 'σ', 'ς', '®', '\u{1F986}', '\u{1F985}');
  const value = fc.array(char, { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
  for (const [minLength, maxLength] of [[1, 15], [16, 40]] as const) {
    fc.assert(fc.property(fc.uniqueArray(value, { minLength, maxLength }), fc.array(fc.array(char, { maxLength: 30 }).map((a) => a.join('')), { minLength: 1, maxLength: 5 }), (values, texts) => {
      const field = compileFieldTest(['contains'], values);
      for (const t of texts) {
        const expected = values.some((v) => t.toLowerCase().includes(v.toLowerCase()));
        assert.equal(field(t, noEvent), expected, `${JSON.stringify(values)} on ${JSON.stringify(t)}`);
      }
    }), { numRuns: 2000 });
  }
});
