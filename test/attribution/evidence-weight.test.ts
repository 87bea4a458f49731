import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attribute } from '../../src/attribution/attribute.js';
import { type EvalCase, noisyCase } from '../../src/attribution/evaluation.js';
import { type DetectionRecord, Evidence, evidenceFromDetections } from '../../src/attribution/evidence.js';
import { GALAXY_FILES, loadGalaxyFiles, withFacts } from '../../src/attribution/knowledge-store.js';
import { KnowledgeIndex, loadKnowledge } from '../../src/attribution/knowledge.js';
import { RuleNoise, ruleNoise } from '../../src/attribution/rule-noise.js';
import { cvesIn } from '../../src/common/cve.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { DATA } from '../helpers/paths.js';

const kb = withFacts(loadKnowledge(`${DATA}/attack/enterprise-attack.json`), loadGalaxyFiles(GALAXY_FILES.map((f) => `${DATA}/cti/misp-galaxy/${f}`)), { attack: 'test', galaxy: 'test' });
const index = new KnowledgeIndex(kb);
const LOGOFF = '0badd08f-c6a3-4630-90d3-6875cca440be'; // SigmaHQ's "User Logoff Event", which fires on ordinary hosts

test('CVEs a rule names: ids in any case, and the short lists writers make of one year\'s ids; SigmaHQ\'s untagged ProxyLogon rule names its chain', () => {
  assert.deepEqual(cvesIn('see CVE-2021-27065 and cve-2021-26855'), ['CVE-2021-27065', 'CVE-2021-26855']);
  assert.deepEqual(cvesIn('https://x/hunting-proxylogon-cve-2021-26855-26858-27065-26857-6e885c5f197c'), ['CVE-2021-26855', 'CVE-2021-26858', 'CVE-2021-27065', 'CVE-2021-26857']);
  assert.deepEqual(cvesIn('CVE-2021-34473, 34523 and 31207'), ['CVE-2021-34473', 'CVE-2021-34523', 'CVE-2021-31207']);
  assert.deepEqual(cvesIn('CVE-21-1 is not one, nor CVE-2021-12'), []);
  const set = loadRuleSet([`${DATA}/sigma/rules/windows/builtin/msexchange/win_exchange_proxylogon_oabvirtualdir.yml`], loadPipeline(DEFAULT_PIPELINE));
  const rule = set.rules[0]!;
  assert.ok(!rule.rule.tags.some((t) => t.startsWith('cve.')), 'the rule carries no cve tag');
  assert.deepEqual([...rule.cves].sort(), ['CVE-2021-26855', 'CVE-2021-26857', 'CVE-2021-26858', 'CVE-2021-27065']);
  // And a title that names the vulnerability, not its ids: ProxyShell's CVEs.
  const e = evidenceFromDetections([{ rule: { title: 'ProxyShell exploitation attempt', level: 'high', tags: [] } }], index);
  assert.deepEqual(e.of('cve').map((i) => i.value).sort(), ['CVE-2021-31207', 'CVE-2021-34473', 'CVE-2021-34523']);
});

test('a detection weighs by its rule: a critical ProxyLogon detection outweighs a dozen informational log-offs, and ranks the groups that exploited it', () => {
  const proxylogon: DetectionRecord = { rule: { id: 'x1', title: 'Script in an OAB virtual directory URL', level: 'critical', status: 'test', tags: ['attack.t1505.003', 'cve.2021-27065'] }, file: 'a.evtx', record_id: 1, computer: 'EXCH01' };
  const logoffs: DetectionRecord[] = Array.from({ length: 12 }, (_, i) => ({ rule: { id: LOGOFF, title: 'User Logoff Event', level: 'informational', status: 'test', tags: ['attack.impact', 'attack.t1531'] }, file: 'Security.evtx', record_id: 100 + i, computer: 'EXCH01' }));
  const e = evidenceFromDetections([proxylogon, ...logoffs], index);
  const weight = (v: string) => e.all().find((i) => i.value === v)!.weight;
  assert.ok(weight('T1505.003') > 0.85, `web shell ${weight('T1505.003')}`);
  assert.ok(weight('T1531') < 0.1 * weight('T1505.003'), `log-offs ${weight('T1531')}`);
  assert.equal(e.all().find((i) => i.value === 'T1531')!.events, 12);
  const leader = attribute(kb, e).candidates[0]!;
  assert.ok(leader.supporting.some((r) => r.kind === 'cve' && r.value.includes('CVE-2021-27065')), `${leader.name} leads without having exploited CVE-2021-27065`);
  const logoffReason = leader.supporting.find((r) => r.value === 'T1531');
  const shellReason = leader.supporting.find((r) => r.value === 'T1505.003')!;
  assert.ok(!logoffReason || logoffReason.weight < 0.1 * shellReason.weight, 'the log-offs add almost nothing to the leader');
});

test('seen on more hosts weighs more; the same event twice counts once; an analyst\'s statement weighs 1', () => {
  const e = new Evidence();
  for (let h = 0; h < 10; h++) e.add('technique', 'T1003.001', 'rule', { strength: 0.5, event: `f#${h}`, host: `h${h}` });
  e.add('technique', 'T1059.001', 'rule', { strength: 0.5, event: 'f#1', host: 'h1' });
  e.add('technique', 'T1059.001', 'rule', { strength: 0.5, event: 'f#1', host: 'h1' });
  e.add('sector', 'legal', 'analyst');
  const item = (v: string) => e.all().find((i) => i.value === v)!;
  assert.equal(item('T1059.001').events, 1);
  assert.equal(item('T1059.001').weight, 0.5);
  assert.ok(item('T1003.001').weight > 0.65 && item('T1003.001').hosts === 10, String(item('T1003.001').weight));
  assert.equal(item('legal').weight, 1);
});

test('rules measured firing on benign hosts keep less of their weight; unmeasured rules all of it', () => {
  const noise = ruleNoise();
  assert.ok(noise.hostsMeasured >= 20);
  assert.ok(noise.specificity(LOGOFF) < 0.5, String(noise.specificity(LOGOFF)));
  assert.equal(noise.specificity('no-such-rule'), 1);
  const made = new RuleNoise([{ id: 'r', title: 'r', level: 'low', techniques: [], hits: 5, hosts: 10 }], 10);
  assert.ok(Math.abs(made.specificity('r') - 1 / 11) < 1e-9, 'a rule firing on every benign host keeps a tenth');
});

test('noise cases: half the items kept (seeded), weighed by the rules tagged with them; benign rules added by their share of hosts', () => {
  const base: EvalCase = { id: 'C9999', truth: ['G0125'], observed: ['T1190', 'T1505.003', 'T1003.001', 'S0020'], drop: () => false, removedCampaigns: new Set(), removedGroups: new Set(), heldReports: new Set() };
  const model = {
    detectors: new Map([['T1190', [0.8]], ['T1505.003', [1]], ['T1003.001', [0.5]]]),
    benign: [{ id: 'always', techniques: ['T1531'], strength: 0.04, share: 1 }, { id: 'never', techniques: ['T1046'], strength: 0.4, share: 0 }],
    fallback: { technique: 0.5, software: 0.8 },
  };
  const a = noisyCase(base, model, { keep: 0.5, noise: true, seed: 4 });
  assert.deepEqual(noisyCase(base, model, { keep: 0.5, noise: true, seed: 4 }), a, 'the same seed, the same case');
  const shown = a.observed.filter((o) => base.observed.includes(o));
  assert.equal(shown.length, 2);
  for (const o of shown) assert.equal(a.weights!.get(o), o === 'S0020' ? 0.8 : model.detectors.get(o)![0]);
  assert.equal(a.weights!.get('T1531'), 0.04);
  assert.ok(!a.observed.includes('T1046'));
  const quiet = noisyCase(base, model, { keep: 0.5, noise: false, seed: 4 });
  assert.deepEqual(quiet.observed.sort(), [...shown].sort());
});
