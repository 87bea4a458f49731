/**
 * From scores to probabilities, in two fitted steps (Platt scaling). The ranking's scores are not
 * probabilities: their size grows with the evidence, and a softmax over 170 groups spreads too much
 * mass over the tail. So the probability that the leading group is right is a logistic function of
 * its score and its lead over the runner-up; the probability that the actor is a group the
 * knowledge does not list ("unknown") is another; the rest is shared by the other groups in
 * proportion to softmax(score / temperature). Both logistic functions are fitted by
 * `npm run eval:attribution` on report-held-out cases (each group's reports predicted from the
 * rest, one at a time and two to four at once; for "unknown", a third of the single ones again with
 * the group removed, so about a fifth of the fitting cases have an unlisted actor), each both whole
 * and as a hunt would show it (half its items, weighed by the rules that would catch them, among
 * benign noise), and checked on the held-out campaigns, which the fit never sees.
 */
export interface Calibration {
  /** Weights of [1, top score / 10, lead / 10] for "the leading group is right", given a listed group did it. */
  right: [number, number, number];
  /** The same for "the actor is not a listed group". */
  unknown: [number, number, number];
  temperature: number;
}

export const CALIBRATION: Calibration = { right: [-1.27, -0.12, 4.05], unknown: [-0.8, 0.14, -2.09], temperature: 3 };

export type Features = [number, number, number];

/** The calibration features of a set of scores: [1, top / 10, (top - second) / 10]. */
export function features(scores: readonly number[]): Features {
  let first = -Infinity;
  let second = 0;
  for (const s of scores) {
    if (s > first) {
      second = Number.isFinite(first) ? first : second;
      first = s;
    } else if (s > second) second = s;
  }
  if (!Number.isFinite(first)) first = 0;
  return [1, first / 10, (first - second) / 10];
}

const logistic = (w: readonly number[], x: readonly number[]) => 1 / (1 + Math.exp(-w.reduce((a, v, i) => a + v * x[i]!, 0)));

/** The probability that the leading group is right, if a listed group did it. */
export function leaderRight(scores: readonly number[], c: Calibration = CALIBRATION): number {
  return logistic(c.right, features(scores));
}

/**
 * Probabilities of the groups (in the order given) and, last, of the unknown hypothesis. `logOdds`
 * adds evidence the ranking does not see (CVEs, victims, infrastructure), in units of log-odds.
 */
export function posterior(rawScores: readonly number[], c: Calibration = CALIBRATION, logOdds?: readonly number[]): number[] {
  const scores = rawScores.map((s, i) => s + c.temperature * (logOdds?.[i] ?? 0));
  const f = features(scores);
  const unknown = logistic(c.unknown, f);
  const right = logistic(c.right, f);
  let top = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[top]!) top = i;
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (i !== top && scores[i]! > max) max = scores[i]!;
  let sum = 0;
  const rest = scores.map((s, i) => {
    if (i === top) return 0;
    const e = Math.exp((s - max) / c.temperature);
    sum += e;
    return e;
  });
  const out = scores.map((_, i) => (i === top ? (1 - unknown) * right : sum ? ((1 - unknown) * (1 - right) * rest[i]!) / sum : 0));
  if (scores.length === 1) out[0] = 1 - unknown;
  out.push(unknown);
  return out;
}

/**
 * ICD 203's terms for likelihood (Intelligence Community Directive 203, Analytic Standards, 2015),
 * each with the band of probability it stands for.
 */
const ICD_203: [number, string][] = [
  [0.05, 'almost no chance'],
  [0.2, 'very unlikely'],
  [0.45, 'unlikely'],
  [0.55, 'roughly even chance'],
  [0.8, 'likely'],
  [0.95, 'very likely'],
  [1.01, 'almost certain'],
];

export function likelihoodTerm(p: number): string {
  for (const [upper, term] of ICD_203) if (p < upper) return term;
  return 'almost certain';
}

/** A prediction's confidence (its top probability) and whether it was right. */
export interface Outcome {
  confidence: number;
  correct: boolean;
}

/** Expected calibration error over ten equal-width bins of confidence. */
export function expectedCalibrationError(outcomes: readonly Outcome[], bins = 10): number {
  if (!outcomes.length) return 0;
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const hits = new Array<number>(bins).fill(0);
  for (const o of outcomes) {
    const b = Math.min(bins - 1, Math.floor(o.confidence * bins));
    count[b]!++;
    conf[b]! += o.confidence;
    if (o.correct) hits[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]) ece += Math.abs(conf[b]! - hits[b]!) / outcomes.length;
  return ece;
}

/** Logistic regression by gradient descent (a few hundred cases, three weights). */
export function fitLogistic(x: readonly Features[], y: readonly number[], l2 = 1e-3): Features {
  let w: Features = [0, 0, 0];
  for (let it = 0; it < 3000; it++) {
    const g = [0, 0, 0];
    for (let i = 0; i < x.length; i++) {
      const p = logistic(w, x[i]!);
      for (let j = 0; j < 3; j++) g[j]! += (p - y[i]!) * x[i]![j]!;
    }
    w = w.map((v, j) => v - 0.5 * (g[j]! / Math.max(1, x.length) + l2 * v)) as Features;
  }
  return w;
}

/** A case to fit on: the groups' scores, whether the leader was right, whether the actor was unlisted. */
export interface ScoredCase {
  scores: number[];
  leaderRight: boolean;
  unlisted: boolean;
}

/** Fits both logistic functions: "right" on the listed-actor cases, "unknown" on all. */
export function fitCalibration(cases: readonly ScoredCase[], temperature = CALIBRATION.temperature): Calibration {
  const listed = cases.filter((c) => !c.unlisted);
  const right = fitLogistic(listed.map((c) => features(c.scores)), listed.map((c) => (c.leaderRight ? 1 : 0)));
  const unknown = fitLogistic(cases.map((c) => features(c.scores)), cases.map((c) => (c.unlisted ? 1 : 0)));
  const round = (w: Features) => w.map((v) => Math.round(v * 100) / 100) as Features;
  return { right: round(right), unknown: round(unknown), temperature };
}
