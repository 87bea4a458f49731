import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { infrastructureIn } from '../../src/attribution/attack-facts.js';
import { evidenceFromCase, evidenceFromDetections } from '../../src/attribution/evidence.js';
import { factsByGroup } from '../../src/attribution/facts.js';
import { clustersFromGalaxy, galaxyFacts, matchClusters } from '../../src/attribution/galaxy.js';
import { compactAttack, GALAXY_FILES, loadGalaxyFiles, readKnowledgeFile, withFacts } from '../../src/attribution/knowledge-store.js';
import { attackVersion, knowledgeFromBundle, KnowledgeIndex } from '../../src/attribution/knowledge.js';
import { countryCode, normaliseCountry, sectorOf } from '../../src/attribution/victimology.js';
import { DATA } from '../helpers/paths.js';

const BUNDLE = `${DATA}/attack/enterprise-attack.json`;
const GALAXY = GALAXY_FILES.map((f) => `${DATA}/cti/misp-galaxy/${f}`);
const doc = JSON.parse(readFileSync(BUNDLE, 'utf8')) as { objects: Record<string, unknown>[] };
const attack = knowledgeFromBundle(doc);
const galaxy = loadGalaxyFiles(GALAXY);
const kb = withFacts(attack, galaxy, { attack: 'test', galaxy: 'test' });
const shipped = readKnowledgeFile();
const galaxyFactsOf = (group: string) => galaxyFacts(galaxy.clusters, attack).filter((f) => f.group === group);

test('the knowledge Spoor ships is what npm run knowledge makes from the shared ATT&CK v18.1 and MISP galaxy, says its version, and stays small', () => {
  assert.deepEqual(shipped.attack, compactAttack({ ...attack, version: '18.1' }), 'data/attribution/knowledge.json.gz is stale: run npm run knowledge');
  assert.deepEqual(shipped.galaxy, galaxy);
  assert.equal(attackVersion(shipped.attack), 'v18.1');
  assert.equal(attackVersion(attack), 'bundle of 2025-11-12', 'the combined bundle says no release: its date is said instead');
  assert.ok(readFileSync(new URL('../../../data/attribution/knowledge.json.gz', import.meta.url)).length < 1024 * 1024);
  // Nothing of the descriptions is carried, only what was read from them.
  assert.ok(shipped.attack.groups.every((g) => g.description === '') && shipped.attack.facts.length > 500);
});

test('three pillars for most groups, each fact with its source: CVEs, victims, infrastructure; and names, origin, sponsor', () => {
  const withKind = (kind: Parameters<typeof factsByGroup>[1]) => factsByGroup(kb.facts, kind).size;
  assert.ok(withKind('cve') >= 60, `${withKind('cve')} groups with CVEs`);
  assert.ok(withKind('sector') >= 120, `${withKind('sector')} groups with victim sectors`);
  assert.ok(withKind('country') >= 100, `${withKind('country')} groups with victim countries`);
  assert.ok(withKind('infrastructure') >= 30, `${withKind('infrastructure')} groups with infrastructure`);
  assert.ok(withKind('name') >= 140 && withKind('microsoft-name') >= 60 && withKind('origin') >= 100);
  assert.ok(kb.facts.every((f) => f.source.length > 5 && /^G\d{4}$/.test(f.group)), 'every fact names its source and an ATT&CK group');
  // CVEs ATT&CK's own relationship texts give (read off the bundle by hand): Sidewinder, Rocke.
  const cves = factsByGroup(kb.facts, 'cve');
  for (const [g, cve] of [['G0121', 'CVE-2017-11882'], ['G0121', 'CVE-2020-0674'], ['G0106', 'CVE-2017-10271'], ['G0106', 'CVE-2017-3066']]) assert.ok(cves.get(g!)?.has(cve!), `${g} ${cve}`);
  assert.match(cves.get('G0121')!.get('CVE-2017-11882')!, /^ATT&CK G0121 uses T\d{4}/);
  // HAFNIUM: the curated ProxyLogon CVEs, its victims, and "leased virtual private servers (VPS) in the United States".
  const of = (kind: Parameters<typeof factsByGroup>[1]) => [...(factsByGroup(kb.facts, kind).get('G0125')?.keys() ?? [])];
  assert.deepEqual(of('cve').sort(), ['CVE-2021-26855', 'CVE-2021-26857', 'CVE-2021-26858', 'CVE-2021-27065']);
  for (const s of ['legal', 'higher education', 'defense', 'think tanks', 'healthcare', 'ngo']) assert.ok(of('sector').includes(s), s);
  assert.ok(of('country').includes('US'));
  assert.ok(!of('country').includes('CN'), 'the country HAFNIUM operates out of is its origin, not a victim');
  assert.ok(of('infrastructure').includes('vps:US'));
  // … which ATT&CK's own link says too, besides the curated row and the galaxy.
  assert.ok(attack.facts.some((f) => f.group === 'G0125' && f.kind === 'infrastructure' && f.value === 'vps:US' && f.source.startsWith('ATT&CK G0125 uses T1583.003 (Microsoft HAFNIUM March 2020)')));
  assert.ok(galaxyFactsOf('G0125').some((f) => f.kind === 'infrastructure' && f.value === 'vps:US'), 'the galaxy reads it from its description');
  assert.deepEqual(of('microsoft-name'), ['Silk Typhoon']);
  assert.deepEqual(of('origin'), ['CN']);
});

test('infrastructure read from texts: placed in a country only where the text places it', () => {
  assert.deepEqual(infrastructureIn('[HAFNIUM](https://attack.mitre.org/groups/G0125) has operated from leased virtual private servers (VPS) in the United States.(Citation: x)', 'T1583.003'), ['vps:US']);
  assert.deepEqual(infrastructureIn('Gamaredon has used VPS hosting providers for infrastructure outside of Russia.', 'T1583.003'), ['vps']);
  assert.deepEqual(infrastructureIn('APT28 has used Tor and a variety of commercial VPN services.', 'T1090.003').sort(), ['tor', 'vpn']);
  assert.deepEqual(infrastructureIn('The group used compromised SOHO routers as relays.', 'T1584.008'), ['compromised']);
});

test('MISP galaxy clusters go to the right ATT&CK group: named ids first, the cluster\'s own name before its synonyms, ambiguous ones left out', () => {
  const clusters = [...clustersFromGalaxy(JSON.parse(readFileSync(GALAXY[0]!, 'utf8'))), ...clustersFromGalaxy(JSON.parse(readFileSync(GALAXY[1]!, 'utf8')))];
  const matched = matchClusters(clusters, attack);
  const group = (galaxyName: string, value: string) => matched.get(clusters.find((c) => c.galaxy === galaxyName && c.value === value)!);
  assert.equal(group('threat-actor', 'HAFNIUM'), 'G0125');
  assert.equal(group('threat-actor', 'APT17'), 'G0025', 'APT17, not Axiom whose names its synonyms share');
  assert.equal(group('threat-actor', 'Lazarus Group'), 'G0032', 'Lazarus Group, not APT38 though the cluster names both');
  assert.equal(group('microsoft-activity-group', 'Silk Typhoon'), 'G0125');
  assert.ok(matched.size >= 250 && new Set(matched.values()).size >= 140, `${matched.size} clusters on ${new Set(matched.values()).size} groups`);
});

test('a group named by any vendor\'s name resolves to its ATT&CK id, in case files too; a name two groups share resolves to neither', () => {
  const index = new KnowledgeIndex(kb);
  for (const name of ['Silk Typhoon', 'MURKY PANDA', 'murky panda', 'HAFNIUM', 'ATK233', 'Red Dev 13', 'Operation Exchange Marauder']) {
    assert.deepEqual(index.find(name).filter((e) => e.kind === 'group').map((e) => e.id), ['G0125'], name);
  }
  assert.deepEqual(evidenceFromCase({ actors: ['Silk Typhoon', 'MURKY PANDA'] }, index).of('actor').map((i) => i.value), ['G0125']);
  // Names the galaxy gives to two different groups (e.g. both clusters list it) are not resolved by the galaxy.
  const owners = new Map<string, Set<string>>();
  for (const f of kb.facts) if (f.kind === 'name') owners.set(f.value.toLowerCase(), (owners.get(f.value.toLowerCase()) ?? new Set()).add(f.group));
  const shared = [...owners].find(([name, groups]) => groups.size > 1 && !attack.groups.some((g) => [g.name, ...g.aliases].some((n) => n.toLowerCase() === name)));
  assert.ok(shared, 'the galaxy has names given to two groups');
  assert.deepEqual(index.find(shared[0]).filter((e) => e.kind === 'group'), [], `${shared[0]} (${[...shared[1]].join(', ')})`);
});

test('one vocabulary for victims: MISP and CFR sector names, UN-style country names', () => {
  const cases: [string, string | undefined][] = [
    ['Academia - University', 'higher education'], ['Government, Administration', 'government'], ['Civil society', 'ngo'], ['Military', 'defense'],
    ['Think Tanks', 'think tanks'], ['Pharmaceuticals', 'healthcare'], ['IT - ISP', 'telecommunications'], ['IT', 'technology'], ['Telecomms', 'telecommunications'],
    ['law firms', 'legal'], ['Private sector', undefined], ['Other', undefined],
  ];
  for (const [word, sector] of cases) assert.equal(sectorOf(word), sector, word);
  const countries: [string, string | undefined][] = [
    ['United States', 'US'], ['Korea (Republic of)', 'KR'], ["Korea (Democratic People's Republic of)", 'KP'], ['Iran (Islamic Republic of)', 'IR'],
    ['Russian Federation', 'RU'], ['Taiwan', 'TW'], ['The Philippines', 'PH'], ['Asia', undefined], ['Bank of America', undefined],
  ];
  for (const [name, code] of countries) assert.equal(countryCode(name), code, name);
  assert.equal(normaliseCountry('us'), 'US');
  assert.equal(normaliseCountry('United Kingdom'), 'GB');
});

test('IoC feeds and YARA descriptions that name a group by another vendor\'s name give evidence of that group', () => {
  const index = new KnowledgeIndex(kb);
  const e = evidenceFromDetections([
    { rule: { title: 'Indicator of compromise: ip from feed.csv', level: 'high', tags: ['detection.ioc'] }, matched: { feed: 'feed.csv', indicator: '203.0.113.9', description: 'C2 of MURKY PANDA (Silk Typhoon)' } },
  ], index);
  assert.deepEqual(e.of('actor').map((i) => i.value), ['G0125']);
});
