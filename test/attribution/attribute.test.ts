import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { attribute } from '../../src/attribution/attribute.js';
import { CALIBRATION, expectedCalibrationError, likelihoodTerm, posterior } from '../../src/attribution/calibration.js';
import { loadCveExploitation } from '../../src/attribution/curated.js';
import {
  campaignCases,
  eceUnderCalibration,
  idfSumMethod,
  jaccardMethod,
  metrics,
  multiReportCases,
  parameterCeiling,
  profilesFor,
  reportCases,
  runCase,
  spoorMethod,
  unknownTopRate,
  type CaseResult,
} from '../../src/attribution/evaluation.js';
import { Evidence, EvidenceError, MAX_ITEMS_PER_KIND, evidenceFromCase, evidenceFromDetections } from '../../src/attribution/evidence.js';
import { IpEnricher } from '../../src/attribution/infrastructure.js';
import { type KbLink, type KnowledgeBase, KnowledgeIndex, loadKnowledge } from '../../src/attribution/knowledge.js';
import { victimsIn } from '../../src/attribution/victimology.js';
import { GALAXY_FILES, loadGalaxyFiles, withFacts } from '../../src/attribution/knowledge-store.js';
import { readEvidence } from '../../src/cli/commands/attribute.js';
import { DATA, SPOOR } from '../helpers/paths.js';

const BUNDLE = `${DATA}/attack/enterprise-attack.json`;
// ATT&CK with the facts attribution weighs beside it: the MISP galaxy's and Spoor's curated ones.
const kb = withFacts(loadKnowledge(BUNDLE), loadGalaxyFiles(GALAXY_FILES.map((f) => `${DATA}/cti/misp-galaxy/${f}`)), { attack: 'test', galaxy: 'test' });
const index = new KnowledgeIndex(kb);
const tmp = mkdtempSync(join(tmpdir(), 'spoor-attr-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('HAFNIUM: a hunt over the simulated ProxyLogon server, with the victim sector, ranks HAFNIUM first and says what separates it from the other ProxyLogon groups', () => {
  const server = join(tmp, 'server');
  const g = spawnSync(process.execPath, [SPOOR, 'demo', 'generate', server, '--size', '2MB', '--intrusion', 'proxylogon', '--seed', '11'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const out = join(tmp, 'scan.jsonl');
  const s = spawnSync(process.execPath, [SPOOR, 'exchange', 'scan', server, '-f', 'jsonl', '-o', out, '--ioc', `${DATA}/ioc/chirp/AA21062A.yaml`, '--no-progress'], { encoding: 'utf8' });
  assert.ok(s.status === 0, s.stderr);
  const evidence = readEvidence(out, index);
  evidence.add('sector', 'higher education', 'analyst');
  // What the hunt must have found for the test to mean anything: the chain's CVEs, a web shell, China Chopper.
  const values = evidence.all().map((e) => e.value);
  for (const v of ['CVE-2021-26855', 'CVE-2021-27065', 'T1505.003', 'S0020']) assert.ok(values.includes(v), `hunt evidence lacks ${v}: ${values.join(' ')}`);
  assert.ok(evidence.of('ip').length > 0, 'no external address in the evidence');

  const a = attribute(kb, evidence);
  assert.equal(a.candidates[0]!.id, 'G0125', a.candidates.map((c) => `${c.id} ${c.probability}`).join(', '));
  assert.ok(a.candidates[0]!.probability > a.unknown.probability);
  // The other groups ESET saw exploiting ProxyLogon: for each ranked, HAFNIUM's case names evidence the other lacks.
  const others = loadCveExploitation().filter((r) => r.cve === 'CVE-2021-26855' && r.attackId && r.attackId !== 'G0125').map((r) => r.attackId!);
  const hafnium = a.candidates[0]!;
  assert.ok(hafnium.alternative && hafnium.alternative.favours.length > 0, 'no separating evidence against the runner-up');
  for (const other of a.candidates.filter((c) => others.includes(c.id))) {
    assert.ok(other.alternative?.id === 'G0125');
    const separating = other.alternative!.disfavours.map((r) => `${r.kind}:${r.value}`);
    assert.ok(separating.some((r) => /CVE-2021-27065|^sector:|^infrastructure:/.test(r)), `${other.name}: nothing separates it from HAFNIUM: ${separating.join(', ')}`);
  }
});

test('open set: with the attributed group removed from the knowledge, "unknown" leads for most held-out campaigns', () => {
  const cases = campaignCases(kb, 'techniques+software', true);
  const results = cases.map((c) => runCase(kb, c, { spoor: spoorMethod }).spoor!);
  const rate = unknownTopRate(results, CALIBRATION);
  assert.ok(rate > 0.5, `unknown led for ${(100 * rate).toFixed(0)}% of ${cases.length}`);
});

test('held-out reports: Spoor ranks the right group better than IDF-sum and Jaccard (every other report, techniques and software)', () => {
  const cases = reportCases(kb, 'techniques+software').filter((_, i) => i % 2 === 0);
  const by: Record<string, CaseResult[]> = { spoor: [], idf: [], jaccard: [] };
  for (const c of cases) for (const [k, r] of Object.entries(runCase(kb, c, { spoor: spoorMethod, idf: idfSumMethod, jaccard: jaccardMethod }))) by[k]!.push(r);
  const m = Object.fromEntries(Object.entries(by).map(([k, rs]) => [k, metrics(rs, CALIBRATION)]));
  assert.ok(m.spoor!.mrr > m.idf!.mrr && m.idf!.mrr > m.jaccard!.mrr, JSON.stringify(m));
  assert.ok(m.spoor!.top1 > m.idf!.top1, JSON.stringify(m));
});

test('held out means held out: no link cited only by the held-out reports stays in the profile, and the reports behind an item never count a held-out one', () => {
  const campaignsOf = (g: string) => kb.attributedTo.filter((a) => a.target === g).map((a) => a.source);
  // Every distinct source saying the group used an item: its links' citations, its campaigns (and theirs), ATT&CK's descriptions.
  const sourcesOf = (group: string, item: string, c: { drop: (l: KbLink) => boolean; removedCampaigns: Set<string> }) => {
    const out = new Set<string>();
    for (const u of kb.uses) {
      if (u.target !== item || c.drop(u)) continue;
      if (u.source === group) u.citations.forEach((r) => out.add(r));
      else if (campaignsOf(group).includes(u.source) && !c.removedCampaigns.has(u.source)) [...u.citations, u.source].forEach((r) => out.add(r));
    }
    for (const d of kb.describedUses) if (d.source === group && d.target === item && !c.drop(d)) d.citations.forEach((r) => out.add(r));
    return out;
  };
  const multi = multiReportCases(kb, 'techniques+software');
  assert.ok(multi.length > 50, `only ${multi.length} cases`);
  const cases = [...multi.slice(0, 6), ...campaignCases(kb, 'techniques+software').slice(0, 6), ...reportCases(kb, 'techniques').slice(0, 6)];
  for (const c of cases) {
    const group = c.truth[0]!;
    const profile = profilesFor(kb, c).groups.get(group)!;
    for (const u of kb.uses.filter((l) => l.source === group && l.citations.length && l.citations.every((r) => c.heldReports.has(r)))) {
      const entry = profile.items.get(u.target);
      if (entry?.basis === 'reported') assert.ok(sourcesOf(group, u.target, c).size > 0, `${c.id}: ${u.target} kept with nothing else reporting it`);
    }
    for (const [item, entry] of profile.items) {
      if (entry.basis !== 'reported') continue;
      const expected = [...sourcesOf(group, item, c)].filter((r) => !c.heldReports.has(r)).length;
      assert.equal(entry.reports, expected, `${c.id}: ${item}`);
    }
  }
});

test('parameter ceiling: each case with the setting that suits it; no single setting gets both cases of a constructed knowledge base', () => {
  // G0001 knows much (two items told by five reports each), G0003 the same two items once, G0002 one
  // item once. Without length damping (b 0) G0001's many reports win; with full damping (b 1) the
  // small profiles do: case "big" is right only at b 0, case "small" only at b 1.
  const link = (source: string, target: string, citations: string[]): KbLink => ({ source, target, citations });
  const five = ['r1', 'r2', 'r3', 'r4', 'r5'];
  const toy: KnowledgeBase = {
    version: 'toy',
    groups: ['G0001', 'G0002', 'G0003'].map((id) => ({ id, name: id, aliases: [], description: '' })),
    campaigns: [],
    software: [],
    techniques: [],
    uses: [
      link('G0001', 'T1001', five),
      link('G0001', 'T1002', five),
      ...Array.from({ length: 8 }, (_, i) => link('G0001', `T10${10 + i}`, ['r1'])),
      link('G0002', 'T1001', ['q1']),
      link('G0003', 'T1001', ['p1']),
      link('G0003', 'T1002', ['p1']),
    ],
    attributedTo: [],
    describedUses: [],
    facts: [],
  };
  const kase = (id: string, truth: string, observed: string[]) => ({ id, truth: [truth], observed, drop: () => false, removedCampaigns: new Set<string>(), removedGroups: new Set<string>(), heldReports: new Set<string>() });
  const cases = [kase('small', 'G0002', ['T1001']), kase('big', 'G0001', ['T1001', 'T1002'])];
  const ceiling = parameterCeiling(toy, cases, { k1: [1], b: [0, 1], softwareWeight: [2], reportWeight: [0.5] });
  assert.equal(ceiling.settings, 2);
  assert.deepEqual(ceiling.perCase.bestRank, { small: 1, big: 1 });
  assert.equal(ceiling.perCase.top1, 1);
  assert.equal(ceiling.bestTop1.top1, 0.5);
  // On ATT&CK the shipped setting is in the grid, so the ceiling can be no lower than what ships.
  const campaigns = campaignCases(kb, 'techniques+software').slice(0, 8);
  const shipped = campaigns.map((c) => runCase(kb, c, { spoor: spoorMethod }).spoor!.rank);
  const grid = parameterCeiling(kb, campaigns, { k1: [2], b: [0.5, 1], softwareWeight: [2], reportWeight: [0.25] });
  campaigns.forEach((c, i) => assert.ok(grid.perCase.bestRank[c.id]! <= shipped[i]!, c.id));
});

test('chance ECE: confidences that match the outcomes sit inside the band, overconfident ones far outside it', () => {
  const matched = Array.from({ length: 40 }, (_, i) => ({ confidence: 0.75, correct: i % 4 !== 0 }));
  assert.ok(eceUnderCalibration(matched).p > 0.5, JSON.stringify(eceUnderCalibration(matched)));
  const over = Array.from({ length: 40 }, (_, i) => ({ confidence: 0.9, correct: i % 4 === 0 }));
  const band = eceUnderCalibration(over);
  assert.ok(band.p < 0.01 && band.high < expectedCalibrationError(over), JSON.stringify(band));
});

test('calibration arithmetic: ECE by hand, probabilities sum to one, ICD 203 bands', () => {
  // Two bins: 0.9 confident, 1 of 2 right (|0.9-0.5| = 0.4); 0.25 confident, 1 of 2 right (|0.25-0.5| = 0.25); weighted: 0.325.
  const ece = expectedCalibrationError([
    { confidence: 0.9, correct: true },
    { confidence: 0.9, correct: false },
    { confidence: 0.25, correct: true },
    { confidence: 0.25, correct: false },
  ]);
  assert.ok(Math.abs(ece - 0.325) < 1e-9, String(ece));
  const p = posterior([9, 4, 1, 0], CALIBRATION, [0, 0.5, 0, 0]);
  assert.equal(p.length, 5);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  assert.ok(p[0]! > p[1]! && p[1]! > p[2]!);
  // ICD 203: almost no chance 1-5%, very unlikely 5-20%, unlikely 20-45%, roughly even 45-55%, likely 55-80%, very likely 80-95%, almost certain 95-99%.
  const terms = [0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97].map(likelihoodTerm);
  assert.deepEqual(terms, ['almost no chance', 'very unlikely', 'unlikely', 'roughly even chance', 'likely', 'very likely', 'almost certain']);
});

test('evidence: case files by id, name or alias, with errors that name the fault; hunt detections by their tags, exposure left out', () => {
  const e = evidenceFromCase({ techniques: ['T1190', 'Web Shell'], software: ['China Chopper', 'S0002'], cves: ['cve-2021-26855'], sectors: ['law firms'], countries: ['United States'] }, index);
  assert.deepEqual(e.of('technique').map((i) => i.value).sort(), ['T1190', 'T1505.003']);
  assert.deepEqual(e.of('software').map((i) => i.value).sort(), ['S0002', 'S0020']);
  assert.deepEqual(e.of('cve').map((i) => i.value), ['CVE-2021-26855']);
  assert.deepEqual(e.of('sector').map((i) => i.value), ['legal']);
  assert.deepEqual(e.of('country').map((i) => i.value), ['US']);
  assert.throws(() => evidenceFromCase({ software: ['No Such Malware'] }, index), (err: Error) => err instanceof EvidenceError && /No Such Malware/.test(err.message));
  assert.throws(() => evidenceFromCase({ technique: ['T1190'] }, index), /unknown key\(s\) "technique"/);

  const d = evidenceFromDetections(
    [
      { rule: { title: 'Web shell written', tags: ['attack.persistence', 'attack.t1505.003', 'cve.2021-27065'] }, event: { 'c-ip': '157.230.221.198', 's-ip': '10.0.0.5' } },
      { rule: { title: 'Exchange build open to known-exploited CVEs', tags: ['detection.exposure', 'attack.t1190', 'cve.2021-34473'] } },
      { rule: { title: 'YARA: shell', tags: ['detection.yara'], description: 'China Chopper and its kin; a Page of script' } },
    ],
    index,
  );
  assert.deepEqual(d.of('technique').map((i) => i.value), ['T1505.003']);
  assert.deepEqual(d.of('cve').map((i) => i.value), ['CVE-2021-27065']);
  assert.deepEqual(d.of('software').map((i) => i.value), ['S0020'], 'only China Chopper: Elise\'s alias "Page" is not matched');
  assert.deepEqual(d.of('ip').map((i) => i.value), ['157.230.221.198'], 'private addresses are not evidence of infrastructure');
});

test('evidence is bounded: past 10,000 addresses new ones are counted, not kept; attribution says how many it enriched', (t) => {
  const e = new Evidence();
  for (let i = 0; i < MAX_ITEMS_PER_KIND + 5; i++) e.add('ip', `100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'rule "scan"');
  e.add('ip', '100.0.0.0', 'rule "other"');
  e.add('technique', 'T1190', 'rule "scan"');
  assert.equal(e.of('ip').length, MAX_ITEMS_PER_KIND);
  assert.equal(e.leftOut('ip'), 5);
  assert.deepEqual(e.of('ip')[0]!.from, ['rule "scan"', 'rule "other"'], 'a kept item still gathers its sources');
  assert.deepEqual(e.of('technique').map((i) => i.value), ['T1190'], 'other kinds are not held back');
  const enricher = new IpEnricher();
  if (!enricher.available) return t.skip('@ip-location-db packages not installed');
  const notes = attribute(kb, e, { enricher }).notes;
  assert.ok(notes.includes(`only the first 1000 of more than ${MAX_ITEMS_PER_KIND} external addresses were enriched`), notes.join('\n'));
});

test('a hostile ATT&CK bundle: a description with 128,000 citations in a row is read in linear time, its group link kept', () => {
  const ref = (id: string) => [{ source_name: 'mitre-attack', external_id: id }];
  const objects: unknown[] = [
    ...Array.from({ length: 100 }, (_, i) => ({ type: 'attack-pattern', id: `attack-pattern--${i}`, name: `T${1000 + i}`, external_references: ref(`T${1000 + i}`) })),
    ...Array.from({ length: 10 }, (_, i) => ({ type: 'intrusion-set', id: `intrusion-set--${i}`, name: `Group ${i}`, external_references: ref(`G000${i}`) })),
    {
      type: 'malware',
      id: 'malware--1',
      name: 'Longtail',
      external_references: ref('S0001'),
      description: `[Longtail](https://attack.mitre.org/software/S0001) is used by [Group 3](https://attack.mitre.org/groups/G0003).${'(Citation: a b c)'.repeat(128_000)} It is also sold.`,
    },
  ];
  const bundle = join(tmp, 'hostile-attack.json');
  writeFileSync(bundle, JSON.stringify({ type: 'bundle', id: 'bundle--1', objects }));
  const file = join(tmp, 'longtail-case.json');
  writeFileSync(file, JSON.stringify({ software: ['S0001'] }));
  // In a child process, so that a quadratic pattern is killed at the time-out instead of stalling the tests.
  const r = spawnSync(process.execPath, [SPOOR, 'attribute', '--input', file, '--attack', bundle, '--format', 'json'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SPOOR_HOME: tmp } });
  assert.equal(r.status, 0, r.error ? String(r.error) : r.stderr);
  const out = JSON.parse(r.stdout) as { candidates: { id: string }[] };
  assert.equal(out.candidates[0]?.id, 'G0003');
});

test('victims from ATT&CK descriptions: HAFNIUM targets US law firms and higher education; a Chinese group is not a victim in China', () => {
  const v = victimsIn(kb.groups.find((g) => g.id === 'G0125')!.description);
  for (const s of ['legal', 'higher education', 'defense', 'think tanks', 'ngo']) assert.ok(v.sectors.includes(s), `${s}: ${v.sectors.join(', ')}`);
  assert.ok(v.countries.includes('US'));
  assert.ok(!v.countries.includes('CN'), v.countries.join(', '));
  const tick = victimsIn(kb.groups.find((g) => g.id === 'G0060')!.description);
  assert.ok(tick.countries.includes('JP') && !tick.countries.includes('CN'), tick.countries.join(', '));
});

test('infrastructure: CISA AA21-062A addresses are in DigitalOcean and Vultr, US, leased servers (RouteViews/DB-IP and NRO data)', (t) => {
  const enricher = new IpEnricher();
  if (!enricher.available) return t.skip('@ip-location-db packages not installed');
  const d = enricher.enrich('157.230.221.198');
  assert.equal(d.asn, 14061);
  assert.match(d.operator ?? '', /DigitalOcean/);
  assert.equal(d.country, 'US');
  assert.equal(d.kind, 'vps');
  const v = enricher.enrich('108.61.246.56');
  assert.equal(v.asn, 20473);
  assert.equal(v.kind, 'vps');
  assert.equal(enricher.enrich('10.1.2.3').asn, undefined);
});

test('spoor attribute: a case file in, ranked JSON out with id, name, probability, likelihood, evidence and unknown; bad input exits 1 naming the file', () => {
  const file = join(tmp, 'case.json');
  writeFileSync(file, JSON.stringify({ techniques: ['T1190', 'T1505.003', 'T1003.001', 'T1560.001'], software: ['China Chopper'], cves: ['CVE-2021-26855', 'CVE-2021-27065'], sectors: ['law firms'] }));
  const r = spawnSync(process.execPath, [SPOOR, 'attribute', '--input', file, '--attack', BUNDLE, '--format', 'json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { candidates: { id: string; name: string; probability: number; likelihood: string; supporting: unknown[] }[]; unknown: { probability: number } };
  assert.equal(out.candidates[0]!.id, 'G0125');
  assert.equal(out.candidates[0]!.name, 'HAFNIUM');
  assert.equal(out.candidates[0]!.likelihood, likelihoodTerm(out.candidates[0]!.probability));
  assert.ok(out.candidates[0]!.supporting.length >= 4);
  const total = out.candidates.reduce((s, c) => s + c.probability, 0) + out.unknown.probability;
  assert.ok(total <= 1.0001);
  const bad = join(tmp, 'bad.jsonl');
  // A bad line is named and skipped; the detections around it are still attributed (China Chopper, then HAFNIUM's CVE).
  writeFileSync(bad, '{"rule":{"title":"shell","tags":["attack.s0020"]}}\nnot json\n{"rule":{"title":"x"},"event":' + '['.repeat(2000) + ']'.repeat(2000) + '}\n{"rule":{"title":"ssrf","tags":["cve.2021-26855"]}}\n');
  const b = spawnSync(process.execPath, [SPOOR, 'attribute', '--input', bad, '--attack', BUNDLE, '--format', 'json'], { encoding: 'utf8' });
  assert.equal(b.status, 1);
  assert.match(b.stderr, /bad\.jsonl:2: not JSON/);
  assert.match(b.stderr, /bad\.jsonl:3: a JSON value nested 2001 levels deep/);
  const read = (JSON.parse(b.stdout) as { evidence: { kind: string; value: string }[] }).evidence.map((e) => `${e.kind} ${e.value}`).sort();
  assert.deepEqual(read, ['cve CVE-2021-26855', 'software S0020']);
  assert.equal(spawnSync(process.execPath, [SPOOR, 'attribute', '--input', join(tmp, 'missing.jsonl'), '--attack', BUNDLE], { encoding: 'utf8' }).status, 1);
});
