import assert from 'node:assert/strict';
import fc from 'fast-check';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { RuleIndex } from '../../src/hunt/rule-index.js';
import { AhoCorasick, type AutomatonStore, type AutomatonTables } from '../../src/sigma/aho-corasick.js';
import { AutomatonCache } from '../../src/sigma/automaton-cache.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { DATA, listFiles } from '../helpers/paths.js';

const found = (a: AhoCorasick, text: string) => {
  const ids = new Set<number>();
  a.search(text, (id) => {
    ids.add(id);
  });
  return [...ids].sort((x, y) => x - y);
};

const onlyFile = (dir: string) => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.bin'));
  assert.equal(files.length, 1);
  return join(dir, files[0]!);
};

test('an automaton read back from the cache equals the one built, table for table and search for search', () => {
  const char = fc.constantFrom(...'abAB.\\-é€ſ😀'.split(''), '\u212a', 'k', 's');
  const word = fc.array(char, { minLength: 1, maxLength: 6 }).map((a) => a.join('').toLowerCase());
  fc.assert(
    fc.property(fc.uniqueArray(word, { minLength: 1, maxLength: 30 }), fc.array(fc.array(char, { maxLength: 30 }).map((a) => a.join('')), { maxLength: 5 }), (literals, texts) => {
      const cache = new AutomatonCache(mkdtempSync(join(tmpdir(), 'spoor-ac-')));
      const built = new AhoCorasick(literals);
      cache.save(literals, built.tables());
      const tables = cache.load(literals);
      assert.ok(tables, 'read back');
      assert.deepEqual(tables, built.tables());
      const loaded = new AhoCorasick(literals, tables);
      assert.equal(loaded.built, false);
      for (const t of texts) assert.deepEqual(found(loaded, t), found(built, t));
    }),
    { numRuns: 200 },
  );
});

test('an automaton of 32-bit cells is kept and read back too', () => {
  const literals = Array.from({ length: 9000 }, (_, i) => `lit${(i * 7919).toString(36)}x${i.toString(16)}`);
  const built = new AhoCorasick(literals);
  assert.ok(built.tables().delta instanceof Int32Array, 'large enough for 32-bit cells');
  const cache = new AutomatonCache(mkdtempSync(join(tmpdir(), 'spoor-ac-')));
  cache.save(literals, built.tables());
  const tables = cache.load(literals);
  assert.ok(tables?.delta instanceof Int32Array);
  assert.deepEqual(tables, built.tables());
});

test('a damaged, truncated or foreign cache file is not used, and the index rebuilds and rewrites it', () => {
  const literals = ['mimikatz', 'sekurlsa', '-enc ', 'rundll32', 'comsvcs'];
  const dir = mkdtempSync(join(tmpdir(), 'spoor-ac-'));
  const cache = new AutomatonCache(dir);
  const built = new AhoCorasick(literals);
  cache.save(literals, built.tables());
  const file = onlyFile(dir);
  const good = readFileSync(file);
  const headerEnd = (12 + good.readUInt32LE(8) + 3) & ~3;
  const deltaAt = headerEnd + 128;
  const damaged: [string, (b: Buffer) => Buffer][] = [
    ['a state out of range', (b) => (b.writeUInt16LE(0xffff, deltaAt + 2), b)],
    ['a literal id out of range', (b) => (b.writeInt32LE(literals.length, b.length - 4), b)],
    ['a class out of range', (b) => (b.writeUInt8(200, headerEnd + 97), b)],
    ['a broken header', (b) => (b.write('X', 12, 'latin1'), b)],
    ['another magic', (b) => (b.write('SPOORAC0', 0, 'latin1'), b)],
    ['an oversized header length', (b) => (b.writeUInt32LE(1 << 30, 8), b)],
  ];
  for (const [what, damage] of damaged) {
    writeFileSync(file, damage(Buffer.from(good)));
    assert.equal(cache.load(literals), undefined, what);
  }
  writeFileSync(file, good);
  truncateSync(file, good.length - 1);
  assert.equal(cache.load(literals), undefined, 'truncated');
  writeFileSync(file, good);
  assert.ok(cache.load(literals), 'the undamaged file serves');
  assert.equal(cache.load([...literals.slice(0, -1), 'comsvcz']), undefined, 'other literals of the same size');

  // The index over a damaged file: it builds, searches right, and leaves a sound file behind.
  writeFileSync(file, Buffer.from(good).fill(0, deltaAt, deltaAt + 64).fill(0xff, deltaAt + 64, deltaAt + 66));
  let loads = 0;
  let saves = 0;
  const spy: AutomatonStore = {
    load: (l, prefix) => (loads++, cache.load(l, prefix)),
    save: (l, t) => (saves++, cache.save(l, t)),
  };
  const rules = loadRuleSet([`${DATA}/sigma/rules/windows/process_creation/proc_creation_win_hktl_mimikatz_command_line.yml`], loadPipeline(DEFAULT_PIPELINE)).rules;
  new RuleIndex(rules, undefined, spy);
  assert.deepEqual([loads, saves], [1, 1]);
});

test('an index whose automaton comes from the cache finds exactly what running every rule on every event finds', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-ac-'));
  const cache = new AutomatonCache(dir);
  const rules = loadRuleSet([`${DATA}/sigma/rules/windows/process_creation`, `${DATA}/sigma/rules/windows/registry`], loadPipeline(DEFAULT_PIPELINE)).rules;
  new RuleIndex(rules, undefined, cache);
  const saved = statSync(onlyFile(dir)).mtimeMs;
  let loaded: AutomatonTables | undefined;
  const index = new RuleIndex(rules, undefined, {
    load: (l, prefix) => (loaded = cache.load(l, prefix)),
    save: () => assert.fail('a cached automaton is not saved again'),
  });
  assert.ok(loaded, 'the second index read the first one’s automaton');
  assert.equal(statSync(onlyFile(dir)).mtimeMs, saved);
  let detections = 0;
  for (const file of listFiles(`${DATA}/evtx/attack-samples`, '.evtx').filter((_, i) => i % 6 === 0)) {
    for (const r of readEvtxFile(file, { render: 'event' })) {
      const e = new EvtxEvent(r.event);
      const brute = rules.filter((rule) => rule.match(e)).map((x) => x.rule.id).sort();
      assert.deepEqual(index.match(e).map((x) => x.rule.id).sort(), brute, `${file}: record ${r.recordId}`);
      detections += brute.length;
    }
  }
  assert.ok(detections > 20, `${detections} detections`);
});

test('the cache keeps the four automatons saved last', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-ac-'));
  const cache = new AutomatonCache(dir);
  const sets = Array.from({ length: 6 }, (_, i) => [`rule${i}`, `other${i}`]);
  const base = Date.now() / 1000 - 100;
  sets.forEach((literals, i) => {
    const before = new Set(readdirSync(dir));
    cache.save(literals, new AhoCorasick(literals).tables());
    // Each file a second older than the next, whatever the file system's time resolution.
    for (const f of readdirSync(dir)) if (!before.has(f)) utimesSync(join(dir, f), base + i, base + i);
  });
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.bin')).length, 4);
  for (const i of [2, 3, 4, 5]) assert.ok(cache.load(sets[i]!), `set ${i} kept`);
  for (const i of [0, 1]) assert.equal(cache.load(sets[i]!), undefined, `set ${i} dropped`);
});

test('tables built over whole literals and over their prefixes never stand for each other', () => {
  const literals = ['mimikatz', 'sekurlsa::logonpasswords', 'rundll32', 'rundll32.exe comsvcs'];
  const [wholeDir, prefixDir] = [mkdtempSync(join(tmpdir(), 'spoor-ac-')), mkdtempSync(join(tmpdir(), 'spoor-ac-'))];
  const whole = new AutomatonCache(wholeDir);
  const byPrefix = new AutomatonCache(prefixDir);
  whole.save(literals, new AhoCorasick(literals).tables());
  const prefixed = new AhoCorasick(literals, undefined, 4);
  byPrefix.save(literals, prefixed.tables());
  assert.equal(whole.load(literals, 4), undefined, 'whole literals asked for as prefixes');
  assert.deepEqual(byPrefix.load(literals, 4), prefixed.tables());
  // Each file put under the other's name (the digest differs by prefix length): the header tells.
  copyFileSync(onlyFile(prefixDir), onlyFile(wholeDir));
  assert.equal(whole.load(literals), undefined, 'prefix tables under the whole literals\' name');
});
