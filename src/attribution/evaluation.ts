import { type Calibration, type Outcome, type ScoredCase, expectedCalibrationError, leaderRight, posterior } from './calibration.js';
import type { KbLink, KnowledgeBase } from './knowledge.js';
import { type Profiles, buildProfiles } from './profiles.js';
import { RANK_PARAMETERS, type RankParameters, rankGroups, specificity } from './rank.js';

/**
 * Held-out evaluation of attribution on ATT&CK itself. A case is what one campaign (or one report on
 * a group) shows, with the knowledge that came from the same reports taken out of the knowledge base
 * first: otherwise the group's profile would hold the very links being predicted.
 */
export interface EvalCase {
  id: string;
  truth: string[];
  observed: string[];
  /** Links whose every citation is a held-out report (or that belong to the held-out campaign). */
  drop: (link: KbLink) => boolean;
  removedCampaigns: Set<string>;
  /** Set for open-set cases: the truth's groups are left out of the knowledge entirely. */
  removedGroups: Set<string>;
  /** The held-out reports: what survives of their links is not counted as reported by them. */
  heldReports: Set<string>;
  /** How much each observed item weighs, as detections of it would (noise cases); 1 when absent. */
  weights?: ReadonlyMap<string, number>;
}

export type Evidence = 'techniques' | 'techniques+software';
const keep = (evidence: Evidence) => (id: string) => evidence === 'techniques+software' || id.startsWith('T');
const allCitedBy = (held: ReadonlySet<string>) => (link: KbLink) => link.citations.length > 0 && link.citations.every((c) => held.has(c));

/** Every campaign ATT&CK attributes to a group, as a case (campaigns with nothing of the kind asked for are skipped). */
export function campaignCases(kb: KnowledgeBase, evidence: Evidence, open = false): EvalCase[] {
  const groupsOf = new Map<string, string[]>();
  for (const a of kb.attributedTo) groupsOf.get(a.source)?.push(a.target) ?? groupsOf.set(a.source, [a.target]);
  const out: EvalCase[] = [];
  for (const [campaign, truth] of groupsOf) {
    const links = kb.uses.filter((u) => u.source === campaign);
    const observed = [...new Set(links.map((u) => u.target).filter(keep(evidence)))];
    if (!observed.length) continue;
    const sources = new Set(links.flatMap((u) => u.citations));
    const cited = allCitedBy(sources);
    out.push({ id: campaign, truth, observed, drop: (l) => l.source === campaign || cited(l), removedCampaigns: new Set([campaign]), removedGroups: new Set(open ? truth : []), heldReports: new Set([...sources, campaign]) });
  }
  return out;
}

/** Each report cited for at least `minTechniques` of a group's techniques, as a case. */
export function reportCases(kb: KnowledgeBase, evidence: Evidence, open = false, minTechniques = 5): EvalCase[] {
  const byReport = new Map<string, string[]>();
  for (const u of kb.uses) {
    if (!u.source.startsWith('G')) continue;
    for (const r of u.citations) {
      const key = `${u.source}\t${r}`;
      byReport.get(key)?.push(u.target) ?? byReport.set(key, [u.target]);
    }
  }
  const out: EvalCase[] = [];
  for (const [key, targets] of byReport) {
    if (targets.filter((t) => t.startsWith('T')).length < minTechniques) continue;
    const [group, report] = key.split('\t') as [string, string];
    out.push({ id: `${group}: ${report}`, truth: [group], observed: [...new Set(targets.filter(keep(evidence)))], drop: allCitedBy(new Set([report])), removedCampaigns: new Set(), removedGroups: new Set(open ? [group] : []), heldReports: new Set([report]) });
  }
  return out;
}

/**
 * Campaign-sized cases made from group reports alone: for each group with at least five reports, two
 * seeded draws of two to four of them, predicted from the rest. A real campaign is usually told by a
 * few reports at once; these cases stand in for them when choosing parameters and fitting the
 * calibration, so that the campaigns themselves stay unseen until they are evaluated.
 */
export function multiReportCases(kb: KnowledgeBase, evidence: Evidence, seed = 3, minTechniques = 8): EvalCase[] {
  const rand = seededRandom(seed);
  const byGroup = new Map<string, Map<string, string[]>>();
  for (const u of kb.uses) {
    if (!u.source.startsWith('G')) continue;
    const reports = byGroup.get(u.source) ?? byGroup.set(u.source, new Map()).get(u.source)!;
    for (const r of u.citations) reports.get(r)?.push(u.target) ?? reports.set(r, [u.target]);
  }
  const out: EvalCase[] = [];
  for (const [group, reports] of byGroup) {
    const names = [...reports.keys()].filter((r) => reports.get(r)!.length >= 2);
    if (names.length < 5) continue;
    for (let draw = 0; draw < 2; draw++) {
      const held = new Set<string>();
      const size = 2 + Math.floor(rand() * 3);
      while (held.size < size) held.add(names[Math.floor(rand() * names.length)]!);
      const targets = [...new Set([...held].flatMap((r) => reports.get(r)!))];
      if (targets.filter((t) => t.startsWith('T')).length < minTechniques) continue;
      out.push({ id: `${group}: ${[...held].join(' + ')}`, truth: [group], observed: targets.filter(keep(evidence)), drop: allCitedBy(held), removedCampaigns: new Set(), removedGroups: new Set(), heldReports: held });
    }
  }
  return out;
}

export function profilesFor(kb: KnowledgeBase, c: EvalCase): Profiles {
  return buildProfiles(kb, { drop: c.drop, removedGroups: c.removedGroups, removedCampaigns: c.removedCampaigns, heldReports: c.heldReports });
}

/** A method's scores for every group with a profile, in the profiles' order. */
export type Method = (profiles: Profiles, observed: readonly string[], weights?: ReadonlyMap<string, number>) => { ids: string[]; scores: number[] };

export const rankerWith =
  (parameters: RankParameters, weighted = true): Method =>
  (profiles, observed, weights) => {
    const ranked = rankGroups(profiles, observed.map((id) => ({ id, ...(weighted && weights?.has(id) ? { weight: weights.get(id)! } : {}) })), parameters);
    return { ids: ranked.map((r) => r.id), scores: ranked.map((r) => r.score) };
  };
export const spoorMethod: Method = rankerWith(RANK_PARAMETERS);
/** Spoor's ranker taking every observed item at full weight, whatever detected it: what weighing by detection adds. */
export const unweightedMethod: Method = rankerWith(RANK_PARAMETERS, false);

const reportedItems = (profiles: Profiles, id: string) => {
  const items = profiles.groups.get(id)!.items;
  return new Set([...items].filter(([, e]) => e.basis === 'reported').map(([k]) => k));
};

/** Overlap of the observed items with a group's reported ones over their union. */
export const jaccardMethod: Method = (profiles, observed) => {
  const ids = [...profiles.groups.keys()].filter((id) => profiles.groups.get(id)!.items.size);
  const seen = new Set(observed);
  return {
    ids,
    scores: ids.map((id) => {
      const known = reportedItems(profiles, id);
      let both = 0;
      for (const o of seen) if (known.has(o)) both++;
      return both / (known.size + seen.size - both);
    }),
  };
};

/** Sum of the inverse group frequencies of the observed items a group is reported to use. */
export const idfSumMethod: Method = (profiles, observed) => {
  const ids = [...profiles.groups.keys()].filter((id) => profiles.groups.get(id)!.items.size);
  return {
    ids,
    scores: ids.map((id) => {
      const known = reportedItems(profiles, id);
      return observed.reduce((s, o) => s + (known.has(o) ? specificity(profiles, o) : 0), 0);
    }),
  };
};

/** A seeded random score for every group (the floor any method must clear). */
export function randomMethod(seed = 1): Method {
  let state = seed >>> 0;
  const next = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (profiles) => {
    const ids = [...profiles.groups.keys()].filter((id) => profiles.groups.get(id)!.items.size);
    return { ids, scores: ids.map(() => next()) };
  };
}

/** One case's result: the rank of the first right group (0: not ranked), and its scores for calibration. */
export interface CaseResult {
  id: string;
  rank: number;
  scored: ScoredCase;
}

export function runCase(kb: KnowledgeBase, c: EvalCase, methods: Record<string, Method>, profiles = profilesFor(kb, c)): Record<string, CaseResult> {
  const out: Record<string, CaseResult> = {};
  for (const [name, method] of Object.entries(methods)) {
    const { ids, scores } = method(profiles, c.observed, c.weights);
    const order = scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const pos = order.findIndex(([, i]) => c.truth.includes(ids[i]!));
    const unlisted = c.removedGroups.size > 0;
    out[name] = { id: c.id, rank: unlisted ? 0 : pos + 1, scored: { scores, leaderRight: !unlisted && pos === 0, unlisted } };
  }
  return out;
}

export interface Metrics {
  n: number;
  top1: number;
  top5: number;
  mrr: number;
  ece: number;
}

/** The leading group's probability of being right if a listed group did it, and whether it was. */
const listedOutcome = (r: CaseResult, calibration: Calibration): Outcome => ({ confidence: leaderRight(r.scored.scores, calibration), correct: r.rank === 1 });

/**
 * The top hypothesis among all (the groups and "unknown") with its probability, and whether it was
 * right: for a mix of cases with listed and unlisted actors.
 */
export function openOutcome(r: CaseResult, calibration: Calibration): Outcome {
  const p = posterior(r.scored.scores, calibration);
  const unknown = p[p.length - 1]!;
  let best = 0;
  for (let i = 1; i < p.length - 1; i++) if (p[i]! > p[best]!) best = i;
  if (unknown >= (p[best] ?? 0)) return { confidence: unknown, correct: r.scored.unlisted };
  return { confidence: p[best]!, correct: r.scored.leaderRight };
}

export function metrics(results: readonly CaseResult[], calibration: Calibration): Metrics {
  const n = results.length;
  const count = (f: (r: CaseResult) => number) => (n ? results.reduce((s, r) => s + f(r), 0) / n : 0);
  return {
    n,
    top1: count((r) => (r.rank === 1 ? 1 : 0)),
    top5: count((r) => (r.rank >= 1 && r.rank <= 5 ? 1 : 0)),
    mrr: count((r) => (r.rank ? 1 / r.rank : 0)),
    ece: expectedCalibrationError(results.map((r) => listedOutcome(r, calibration))),
  };
}

/** How often the unknown hypothesis is ranked above every group (for open-set cases). */
export function unknownTopRate(results: readonly CaseResult[], calibration: Calibration): number {
  if (!results.length) return 0;
  let hits = 0;
  for (const r of results) {
    const p = posterior(r.scored.scores, calibration);
    const unknown = p[p.length - 1]!;
    if (p.slice(0, -1).every((x) => x < unknown)) hits++;
  }
  return hits / results.length;
}

export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** A seeded uniform [0, 1) generator (a linear congruential one), so that runs agree. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
}

/** Seeded resamples of a list (percentile bootstrap). */
function* resamples<T>(items: readonly T[], rounds: number, seed: number): Generator<T[]> {
  const rand = seededRandom(seed);
  for (let i = 0; i < rounds && items.length; i++) yield Array.from({ length: items.length }, () => items[Math.floor(rand() * items.length)]!);
}

/** The 2.5th and 97.5th percentiles of resampled values around a point value. */
function interval(value: number, samples: number[]): Interval {
  const v = [...samples].sort((a, b) => a - b);
  return { value, low: v[Math.floor(0.025 * (v.length - 1))] ?? value, high: v[Math.ceil(0.975 * (v.length - 1))] ?? value };
}

/** Percentile bootstrap 95% interval of each metric, resampling cases. */
export function bootstrap(results: readonly CaseResult[], calibration: Calibration, rounds = 1000, seed = 7): Record<keyof Metrics, Interval> {
  const point = metrics(results, calibration);
  const samples = [...resamples(results, rounds, seed)].map((r) => metrics(r, calibration));
  const of = (k: keyof Metrics) => interval(point[k], samples.map((s) => s[k]));
  return { n: { value: point.n, low: point.n, high: point.n }, top1: of('top1'), top5: of('top5'), mrr: of('mrr'), ece: of('ece') };
}

/** Bootstrap 95% interval of the calibration error of a list of outcomes. */
export function bootstrapOutcomes(outcomes: readonly Outcome[], rounds = 1000, seed = 7): Interval {
  return interval(expectedCalibrationError(outcomes), [...resamples(outcomes, rounds, seed)].map((o) => expectedCalibrationError(o)));
}

/**
 * The calibration error that a perfectly calibrated predictor would show with the same confidences on
 * the same number of cases (outcomes drawn as coin flips of each confidence): on a few dozen cases
 * ECE is large by chance alone, so an observed ECE means something only beside this band. `p` is how
 * often chance alone gives an ECE at least as large as the observed one.
 */
export function eceUnderCalibration(outcomes: readonly Outcome[], rounds = 2000, seed = 11): { median: number; high: number; p: number } {
  const observed = expectedCalibrationError(outcomes);
  const rand = seededRandom(seed);
  const sims: number[] = [];
  for (let i = 0; i < rounds; i++) sims.push(expectedCalibrationError(outcomes.map((o) => ({ confidence: o.confidence, correct: rand() < o.confidence }))));
  sims.sort((a, b) => a - b);
  return { median: sims[Math.floor(rounds / 2)] ?? 0, high: sims[Math.floor(0.95 * (rounds - 1))] ?? 0, p: sims.filter((e) => e >= observed).length / Math.max(1, rounds) };
}

/** The ranker's parameter settings the ceiling analysis tries (the shipped setting is one of them). */
export const PARAMETER_GRID = { k1: [0.5, 1, 2, 3, 5], b: [0, 0.2, 0.3, 0.5, 0.75, 1], softwareWeight: [1, 2, 3, 5], reportWeight: [0, 0.25, 0.5, 1, 2] };

export interface SettingResult {
  parameters: RankParameters;
  top1: number;
  top5: number;
}

export interface Ceiling {
  settings: number;
  /** The setting with the most cases right first (then in the first five), chosen on the cases themselves. */
  bestTop1: SettingResult;
  /** The setting with the most cases in the first five (then right first). */
  bestTop5: SettingResult;
  /**
   * Each case ranked with whichever setting suits it best: no setting of the grid, nor any rule that
   * picks one per case, ranks better than this.
   */
  perCase: { top1: number; top5: number; bestRank: Record<string, number> };
}

/** The share of ranks at or above `k`. */
const share = (ranks: readonly number[], k: number) => (ranks.length ? ranks.filter((r) => r <= k).length / ranks.length : 0);

/**
 * How far the ranker could go on some cases if its parameters were chosen on those very cases: not a
 * result (choosing on the test flatters it) but a bound, to tell a weak parameter choice from
 * evidence that does not hold the answer.
 */
export function parameterCeiling(kb: KnowledgeBase, cases: readonly EvalCase[], grid = PARAMETER_GRID): Ceiling {
  const profiles = cases.map((c) => profilesFor(kb, c));
  const bestRank: Record<string, number> = {};
  let bestTop1: SettingResult | undefined;
  let bestTop5: SettingResult | undefined;
  let settings = 0;
  for (const k1 of grid.k1)
    for (const b of grid.b)
      for (const softwareWeight of grid.softwareWeight)
        for (const reportWeight of grid.reportWeight) {
          settings++;
          const parameters = { k1, b, softwareWeight, reportWeight };
          const method = { ranker: rankerWith(parameters) };
          const ranks = cases.map((c, i) => runCase(kb, c, method, profiles[i]).ranker!.rank || Infinity);
          ranks.forEach((rank, i) => (bestRank[cases[i]!.id] = Math.min(rank, bestRank[cases[i]!.id] ?? Infinity)));
          const result = { parameters, top1: share(ranks, 1), top5: share(ranks, 5) };
          if (!bestTop1 || result.top1 > bestTop1.top1 || (result.top1 === bestTop1.top1 && result.top5 > bestTop1.top5)) bestTop1 = result;
          if (!bestTop5 || result.top5 > bestTop5.top5 || (result.top5 === bestTop5.top5 && result.top1 > bestTop5.top1)) bestTop5 = result;
        }
  const ranks = Object.values(bestRank);
  const none = { parameters: RANK_PARAMETERS, top1: 0, top5: 0 };
  return { settings, bestTop1: bestTop1 ?? none, bestTop5: bestTop5 ?? none, perCase: { top1: share(ranks, 1), top5: share(ranks, 5), bestRank } };
}

/**
 * Realistic noise for held-out cases: a detection shows only part of what an intrusion did, at the
 * strength of the rule that caught it, beside what rules raise on ordinary activity. `detectors` gives,
 * for an ATT&CK id, the strengths of the rules tagged with it (their level and status, as attribution
 * weighs them); `benign` the rules that fired on benign data, each with the share of benign hosts it
 * fired on, its techniques and strength.
 */
export interface NoiseModel {
  detectors: ReadonlyMap<string, readonly number[]>;
  benign: readonly { id: string; techniques: readonly string[]; strength: number; share: number }[];
  /** Strength of what no rule is tagged with: a YARA or IoC hit (high, stable) for software, a medium rule otherwise. */
  fallback: { technique: number; software: number };
}

/**
 * A case as a hunt would show it: `keep` of its observed items (at least one), drawn at random, each
 * weighed as one of the rules tagged with it would weigh it; plus, when `noise` is on, the techniques
 * of each benign-firing rule with the chance of its benign host share (times `noiseScale`), at that
 * rule's strength. An item both shown and raised by noise keeps the larger weight. Seeded per case.
 */
export function noisyCase(c: EvalCase, model: NoiseModel, options: { keep: number; noise: boolean; noiseScale?: number; seed: number }): EvalCase {
  const rand = seededRandom(options.seed + hashOf(c.id));
  const shuffled = [...c.observed].map((id) => [rand(), id] as const).sort((a, b) => a[0] - b[0]).map(([, id]) => id);
  const kept = shuffled.slice(0, Math.max(1, Math.round(options.keep * shuffled.length)));
  const weights = new Map<string, number>();
  for (const id of kept) {
    const strengths = model.detectors.get(id);
    weights.set(id, strengths?.length ? strengths[Math.floor(rand() * strengths.length)]! : id.startsWith('S') ? model.fallback.software : model.fallback.technique);
  }
  if (options.noise) {
    const scale = options.noiseScale ?? 1;
    for (const r of model.benign) {
      if (rand() >= Math.min(1, r.share * scale)) continue;
      for (const t of r.techniques) weights.set(t, Math.max(weights.get(t) ?? 0, r.strength));
    }
  }
  return { ...c, id: c.id, observed: [...weights.keys()], weights };
}

function hashOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
