import type { ItemBasis, Profiles } from './profiles.js';

/**
 * How strongly the techniques and software seen support each group. An item a group is known to use
 * adds its specificity (inverse group frequency: PsExec, used by 60 groups, adds little; a backdoor
 * only one group has, much), software counting double (a tool is rarer and more telling than a
 * technique), and more when many reports say the group uses it (1 + 0.25 · ln(1 + reports):
 * a habit seen in five intrusions says more than one mention). A group's score is damped by how much
 * it is known to do (BM25's length normalisation): a group with 300 known items matches any
 * observation somewhat, and what it is known for but was not seen counts against it only through
 * that damping, weakly, because an intrusion shows only part of what its actor does. Parameters were
 * chosen on the report-held-out and multi-report-held-out evaluations, never on the campaigns.
 */
export interface RankParameters { k1: number; b: number; softwareWeight: number; reportWeight: number }
export const RANK_PARAMETERS: RankParameters = { k1: 2, b: 0.5, softwareWeight: 2, reportWeight: 0.25 };

export interface ObservedItem {
  /** ATT&CK technique (T1505.003) or software (S0020) id. */
  id: string;
  /** Below 1 for items that say little of who used them (commodity tools). */
  weight?: number;
}

export interface Contribution {
  item: string;
  basis: ItemBasis;
  via?: string;
  /** Distinct reports behind a reported item. */
  reports: number;
  points: number;
}

export interface GroupRank {
  id: string;
  score: number;
  supporting: Contribution[];
  /** Observed items the group is not known to use. */
  unexplained: string[];
}

export function specificity(profiles: Profiles, item: string): number {
  return Math.log((profiles.count + 1) / ((profiles.groupsUsing.get(item) ?? 0) + 0.5));
}

export function rankGroups(profiles: Profiles, observed: readonly ObservedItem[], parameters: RankParameters = RANK_PARAMETERS): GroupRank[] {
  const { k1, b, softwareWeight, reportWeight } = parameters;
  const out: GroupRank[] = [];
  for (const p of profiles.groups.values()) {
    if (!p.items.size) continue;
    const norm = (k1 + 1) / (1 + k1 * (1 - b + (b * p.size) / profiles.averageSize));
    const supporting: Contribution[] = [];
    const unexplained: string[] = [];
    let score = 0;
    for (const o of observed) {
      const entry = p.items.get(o.id);
      if (!entry) {
        unexplained.push(o.id);
        continue;
      }
      const points = entry.weight * (1 + reportWeight * Math.log1p(entry.reports)) * specificity(profiles, o.id) * norm * (o.id.startsWith('S') ? softwareWeight : 1) * (o.weight ?? 1);
      score += points;
      supporting.push({ item: o.id, basis: entry.basis, ...(entry.via ? { via: entry.via } : {}), reports: entry.reports, points });
    }
    out.push({ id: p.id, score, supporting, unexplained });
  }
  return out.sort((x, y) => y.score - x.score || x.id.localeCompare(y.id));
}
