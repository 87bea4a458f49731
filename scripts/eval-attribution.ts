/**
 * `npm run eval:attribution [-- --attack BUNDLE.json] [--out FILE]`: how well Spoor's attribution
 * ranks the right group on ATT&CK's own held-out knowledge, beside Jaccard, IDF-sum and random
 * baselines, with bootstrap 95% intervals; then whether "unknown" comes first when the group is not
 * in the knowledge at all. Writes the figures to bench/results/attribution.json too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CALIBRATION, type Calibration, expectedCalibrationError, fitCalibration, leaderRight } from '../src/attribution/calibration.js';
import {
  type CaseResult,
  type EvalCase,
  type Evidence,
  type Interval,
  type Method,
  bootstrap,
  bootstrapOutcomes,
  campaignCases,
  eceUnderCalibration,
  idfSumMethod,
  jaccardMethod,
  metrics,
  multiReportCases,
  type NoiseModel,
  noisyCase,
  openOutcome,
  parameterCeiling,
  profilesFor,
  randomMethod,
  reportCases,
  runCase,
  spoorMethod,
  unknownTopRate,
  unweightedMethod,
} from '../src/attribution/evaluation.js';
import { detectionStrength } from '../src/attribution/evidence.js';
import { loadKnowledge } from '../src/attribution/knowledge.js';
import { ruleNoise } from '../src/attribution/rule-noise.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../src/sigma/pipeline.js';
import { loadRuleSet } from '../src/sigma/ruleset.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const bundle = arg('--attack') ?? join(root, '..', 'shared', 'data', 'attack', 'enterprise-attack.json');
const outFile = arg('--out') ?? join(root, 'bench', 'results', 'attribution.json');

const kb = loadKnowledge(bundle);
const methods: Record<string, Method> = { spoor: spoorMethod, 'idf-sum': idfSumMethod, jaccard: jaccardMethod, random: randomMethod(42) };

function runAll(cases: EvalCase[], which: Record<string, Method>): Record<string, CaseResult[]> {
  const out: Record<string, CaseResult[]> = Object.fromEntries(Object.keys(which).map((k) => [k, []]));
  for (const c of cases) for (const [name, r] of Object.entries(runCase(kb, c, which))) out[name]!.push(r);
  return out;
}

const pct = (i: Interval) => `${(100 * i.value).toFixed(1)}% [${(100 * i.low).toFixed(1)}–${(100 * i.high).toFixed(1)}]`;
const num = (i: Interval) => `${i.value.toFixed(3)} [${i.low.toFixed(3)}–${i.high.toFixed(3)}]`;

function table(title: string, results: Record<string, CaseResult[]>, calibrationOf: (method: string) => Calibration | undefined) {
  console.log(`\n${title}`);
  console.log(`  ${'method'.padEnd(9)} ${'n'.padStart(4)}  ${'top-1'.padEnd(21)} ${'top-5'.padEnd(21)} ${'MRR'.padEnd(21)} ECE`);
  const figures: Record<string, unknown> = {};
  for (const [name, rs] of Object.entries(results)) {
    const cal = calibrationOf(name);
    const b = bootstrap(rs, cal ?? CALIBRATION);
    console.log(`  ${name.padEnd(9)} ${String(b.n.value).padStart(4)}  ${pct(b.top1).padEnd(21)} ${pct(b.top5).padEnd(21)} ${num(b.mrr).padEnd(21)} ${cal ? num(b.ece) : '(no probabilities)'}`);
    figures[name] = { n: b.n.value, top1: b.top1, top5: b.top5, mrr: b.mrr, ...(cal ? { ece: b.ece } : {}) };
  }
  return figures;
}

/** Report cases are split in halves by group; each half's calibration is fitted on the other. */
const halfOf = (c: EvalCase) => c.truth[0]!.charCodeAt(c.truth[0]!.length - 1) % 2;

const figures: Record<string, unknown> = { bundle, version: kb.version || undefined, groups: kb.groups.length, campaigns: kb.campaigns.length, shippedCalibration: CALIBRATION };
// Realistic noise: part of each case's techniques, weighed by the rules that would catch them, among what rules raise on benign data.
const sigmaRoot = join(root, '..', 'shared', 'data', 'sigma');
const ruleSet = loadRuleSet([...['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-dfir', 'rules-compliance'].map((d) => join(sigmaRoot, d)), join(root, 'rules')], loadPipeline(DEFAULT_PIPELINE));
const noise = ruleNoise();
const detectors = new Map<string, number[]>();
const ruleById = new Map(ruleSet.rules.map((r) => [r.rule.id, r.rule]));
for (const r of ruleSet.rules) {
  const strength = detectionStrength(r.rule, noise);
  for (const t of r.rule.tags) {
    const m = /^attack\.([ts]\d{4}(?:\.\d{3})?)$/i.exec(t);
    if (m) detectors.get(m[1]!.toUpperCase())?.push(strength) ?? detectors.set(m[1]!.toUpperCase(), [strength]);
  }
}
const model: NoiseModel = {
  detectors,
  benign: noise.rules.map((r) => {
    const rule = ruleById.get(r.id);
    return { id: r.id, techniques: r.techniques, strength: detectionStrength(rule ?? { title: r.title, level: r.level, id: r.id }, noise), share: r.hosts / noise.hostsMeasured };
  }),
  fallback: { technique: 0.5, software: 0.8 },
};
const started = Date.now();
for (const evidence of ['techniques', 'techniques+software'] as Evidence[]) {
  const rCases = reportCases(kb, evidence);
  const report = runAll(rCases, methods);
  // Every third report again with its group removed: the unknown hypothesis is fitted on these.
  const oCases = reportCases(kb, evidence, true).filter((_, i) => i % 3 === 0);
  const open = runAll(oCases, { spoor: spoorMethod }).spoor!;
  // Several reports of a group at once, the size of a campaign: for choosing parameters and fitting.
  const mCases = multiReportCases(kb, evidence);
  const multi = runAll(mCases, methods);
  // Real evidence is partial and weighed by its detections: the calibration is fitted on these cases
  // both whole and as a hunt would show them (half their items, weighed, with benign noise; seed 1).
  const noisy = (cases: EvalCase[]) => (evidence === 'techniques+software' ? cases.map((c) => noisyCase(c, model, { keep: 0.5, noise: true, seed: 1 })) : []);
  const [nr, nm, no] = [noisy(rCases), noisy(mCases), noisy(oCases)];
  const [noisyReport, noisyMulti, noisyOpen] = [runAll(nr, { spoor: spoorMethod }).spoor!, runAll(nm, { spoor: spoorMethod }).spoor!, runAll(no, { spoor: spoorMethod }).spoor!];
  const fitOn = (h: number | undefined) =>
    fitCalibration(
      [
        ...report.spoor!.filter((_, i) => halfOf(rCases[i]!) !== h),
        ...multi.spoor!.filter((_, i) => halfOf(mCases[i]!) !== h),
        ...open.filter((_, i) => halfOf(oCases[i]!) !== h),
        ...noisyReport.filter((_, i) => halfOf(nr[i]!) !== h),
        ...noisyMulti.filter((_, i) => halfOf(nm[i]!) !== h),
        ...noisyOpen.filter((_, i) => halfOf(no[i]!) !== h),
      ].map((r) => r.scored),
    );
  const fits = [fitOn(0), fitOn(1)];
  const all = fitOn(undefined);
  const reportFigures = table(`Report held out (${evidence}); ECE: each half of the groups with the calibration fitted on the other`, report, () => undefined);
  const eceOf = (rs: CaseResult[], cs: EvalCase[], mixed: boolean) => {
    const outcomes = rs.map((r, i) => (mixed ? openOutcome(r, fits[1 - halfOf(cs[i]!)]!) : { confidence: leaderRight(r.scored.scores, fits[1 - halfOf(cs[i]!)]!), correct: r.rank === 1 }));
    return expectedCalibrationError(outcomes);
  };
  const multiFigures = table(`Two to four reports of a group held out at once (${evidence})`, multi, () => undefined);
  const listedEce = eceOf(report.spoor!, rCases, false);
  const multiEce = eceOf(multi.spoor!, mCases, false);
  console.log(`  spoor ECE, each half fitted on the other: ${multiEce.toFixed(3)} (several reports held out)`);
  const mixedEce = expectedCalibrationError([...report.spoor!.map((r, i) => openOutcome(r, fits[1 - halfOf(rCases[i]!)]!)), ...open.map((r, i) => openOutcome(r, fits[1 - halfOf(oCases[i]!)]!))]);
  console.log(`  spoor ECE: ${listedEce.toFixed(3)} (leading group, actor listed); ${mixedEce.toFixed(3)} (top hypothesis incl. unknown, over these and ${open.length} cases with the group removed)`);
  if (noisyReport.length) console.log(`  spoor ECE as a hunt shows them (half, weighed, with noise), each half fitted on the other: ${eceOf(noisyReport, nr, false).toFixed(3)} (reports), ${eceOf(noisyMulti, nm, false).toFixed(3)} (several reports)`);
  console.log(`  calibration fitted on all report cases${noisyReport.length ? ', whole and as a hunt shows them' : ''}: ${JSON.stringify(all)}  (shipped: ${JSON.stringify(CALIBRATION)})`);

  const cCases = campaignCases(kb, evidence);
  const campaign = runAll(cCases, methods);
  const campaignFigures = table(`Campaign held out (${evidence}); ECE of the leading group with the shipped calibration (fitted on reports)`, campaign, (m) => (m === 'spoor' ? CALIBRATION : undefined));
  const misses = campaign.spoor!.filter((r) => r.rank !== 1).map((r) => `${r.id}→${cCases.find((c) => c.id === r.id)!.truth.join('/')} rank ${r.rank}`);
  console.log(`  spoor misses: ${misses.join(', ')}`);
  const unreachable = cCases
    .filter((c) => {
      const profiles = profilesFor(kb, c);
      return !c.truth.some((g) => c.observed.some((o) => profiles.groups.get(g)?.items.has(o)));
    })
    .map((c) => c.id);
  console.log(`  beyond any ranking: ${unreachable.length} of ${cCases.length} campaigns (${unreachable.join(', ') || 'none'}) share nothing with what is left of their group once their reports are removed`);
  const ceiling = parameterCeiling(kb, cCases);
  const setting = (r: { parameters: object; top1: number; top5: number }) => `top-1 ${(100 * r.top1).toFixed(1)}%, top-5 ${(100 * r.top5).toFixed(1)}% (${JSON.stringify(r.parameters)})`;
  console.log(`  ceiling, parameters chosen on these very campaigns (${ceiling.settings} settings; a bound, not a result): best setting for top-1: ${setting(ceiling.bestTop1)}; for top-5: ${setting(ceiling.bestTop5)}`);
  console.log(`    each campaign with the setting that suits it best: top-1 ${(100 * ceiling.perCase.top1).toFixed(1)}%, top-5 ${(100 * ceiling.perCase.top5).toFixed(1)}%`);
  const campaignOutcomes = campaign.spoor!.map((r) => ({ confidence: leaderRight(r.scored.scores, CALIBRATION), correct: r.rank === 1 }));
  const chance = eceUnderCalibration(campaignOutcomes);
  console.log(
    `  a perfectly calibrated predictor with these confidences would show ECE ${chance.median.toFixed(3)} (median; 95th percentile ${chance.high.toFixed(3)}) on ${campaignOutcomes.length} cases by chance alone; ECE this high or higher by chance: p = ${chance.p.toFixed(2)}`,
  );

  const openCampaign = runAll(campaignCases(kb, evidence, true), { spoor: spoorMethod }).spoor!;
  const openRate = unknownTopRate(openCampaign, CALIBRATION);
  const closedUnknown = unknownTopRate(campaign.spoor!, CALIBRATION);
  const campaignMixedEce = bootstrapOutcomes([...campaign.spoor!, ...openCampaign].map((r) => openOutcome(r, CALIBRATION)));
  console.log(`  open set: with the attributed group removed from the knowledge, "unknown" ranks first for ${(100 * openRate).toFixed(0)}% of ${openCampaign.length} campaigns (and for ${(100 * closedUnknown).toFixed(0)}% with the group known)`);
  console.log(`  ECE of the top hypothesis incl. unknown over both (${campaign.spoor!.length + openCampaign.length} cases): ${num(campaignMixedEce)}`);
  figures[evidence] = {
    report: { ...reportFigures, spoorEce: listedEce, spoorEceWithUnknown: mixedEce, fittedCalibration: all },
    multiReport: { ...multiFigures, spoorEce: multiEce },
    campaign: { ...campaignFigures, unreachable, eceOfCalibratedPredictor: chance, ceiling },
    openSet: { campaigns: openCampaign.length, unknownFirst: openRate, unknownFirstWhenKnown: closedUnknown, eceWithUnknown: campaignMixedEce },
  };
}
console.log(`\nUnder noise (techniques+software): each case shows half its items (seeded), each weighed as a SigmaHQ or Spoor rule tagged with it would weigh it (${ruleSet.rules.length} rules; ${detectors.size} ATT&CK ids tagged); noise: the ${model.benign.length} rules that fired on benign data (${noise.hostsMeasured} hosts), each with the chance of its share of hosts, at its strength. Mean of 5 seeds [lowest–highest].`);
const SEEDS = [1, 2, 3, 4, 5];
const noiseFigures: Record<string, unknown> = {};
for (const [label, build] of [['reports', () => reportCases(kb, 'techniques+software')], ['multi-report', () => multiReportCases(kb, 'techniques+software')], ['campaigns', () => campaignCases(kb, 'techniques+software')]] as const) {
  const base = build();
  const profiles = base.map((c) => profilesFor(kb, c));
  const variants: Record<string, { cases: (seed: number) => EvalCase[]; method: Method }> = {
    'all items (earlier figures)': { cases: () => base, method: spoorMethod },
    'half, no noise': { cases: (seed) => base.map((c) => noisyCase(c, model, { keep: 0.5, noise: false, seed })), method: spoorMethod },
    'half + noise': { cases: (seed) => base.map((c) => noisyCase(c, model, { keep: 0.5, noise: true, seed })), method: spoorMethod },
    'half + noise, unweighted': { cases: (seed) => base.map((c) => noisyCase(c, model, { keep: 0.5, noise: true, seed })), method: unweightedMethod },
    'half + 5x noise': { cases: (seed) => base.map((c) => noisyCase(c, model, { keep: 0.5, noise: true, noiseScale: 5, seed })), method: spoorMethod },
    'half + 5x noise, unweighted': { cases: (seed) => base.map((c) => noisyCase(c, model, { keep: 0.5, noise: true, noiseScale: 5, seed })), method: unweightedMethod },
  };
  console.log(`  ${label} (${base.length}):`);
  const rows: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(variants)) {
    const runs = SEEDS.map((seed) => {
      const cases = v.cases(seed);
      const rs = cases.map((c, i) => runCase(kb, c, { m: v.method }, profiles[i]).m!);
      const m = metrics(rs, CALIBRATION);
      return { top1: m.top1, top5: m.top5, mrr: m.mrr, ece: m.ece, noise: cases.reduce((a, c) => a + c.observed.length, 0) / cases.length };
    });
    const stat = (k: 'top1' | 'top5' | 'mrr' | 'ece' | 'noise') => {
      const xs = runs.map((r) => r[k]);
      return { mean: xs.reduce((a, x) => a + x, 0) / xs.length, low: Math.min(...xs), high: Math.max(...xs) };
    };
    const f = (k: 'top1' | 'top5') => `${(100 * stat(k).mean).toFixed(1)}% [${(100 * stat(k).low).toFixed(1)}–${(100 * stat(k).high).toFixed(1)}]`;
    console.log(`    ${name.padEnd(30)} top-1 ${f('top1').padEnd(20)} top-5 ${f('top5').padEnd(20)} MRR ${stat('mrr').mean.toFixed(3)}   ECE ${stat('ece').mean.toFixed(3)}   items per case ${stat('noise').mean.toFixed(1)}`);
    rows[name] = { top1: stat('top1'), top5: stat('top5'), mrr: stat('mrr'), ece: stat('ece'), itemsPerCase: stat('noise').mean };
  }
  noiseFigures[label] = rows;
}
figures.noise = { seeds: SEEDS, rules: ruleSet.rules.length, benignRules: model.benign.length, hostsMeasured: noise.hostsMeasured, ...noiseFigures };

figures.seconds = (Date.now() - started) / 1000;
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(figures, null, 2) + '\n');
console.log(`\nfigures written to ${outFile} (${figures.seconds} s)`);
