import type { KbLink, KnowledgeBase } from './knowledge.js';

/**
 * What each group is known to use: techniques and software, from its own `uses` links, those of the
 * campaigns attributed to it, and the software ATT&CK's descriptions say it uses. Each item has a
 * weight: 1 when reported, less when only implied (the parent of a reported sub-technique, a
 * technique of software the group uses).
 */
export interface GroupProfile {
  id: string;
  items: Map<string, ProfileItem>;
  /** Sum of the item weights: the group's "length" when scores are normalised. */
  size: number;
}

/** How a group is known to use an item. */
export type ItemBasis = 'reported' | 'parent of a reported sub-technique' | 'technique of its software';
export interface ProfileItem {
  weight: number;
  basis: ItemBasis;
  /** How many distinct reports (or campaigns) say the group used it: 0 for implied items. */
  reports: number;
  /** For an implied technique, the software or sub-technique it is implied by. */
  via?: string;
}

export interface Profiles {
  groups: Map<string, GroupProfile>;
  /** How many groups' profiles hold each item (weighted), for how specific it is. */
  groupsUsing: Map<string, number>;
  /** Groups with a non-empty profile. */
  count: number;
  averageSize: number;
}

/** Weights of implied items (fitted on the report-held-out evaluation, see `npm run eval:attribution`). */
export const PARENT_WEIGHT = 0.3;
export const SOFTWARE_TECHNIQUE_WEIGHT = 0.3;

export interface ProfileOptions {
  /** Links to leave out (an evaluation's held-out reports). */
  drop?: (link: KbLink, kind: 'uses' | 'described') => boolean;
  /** Groups left out entirely (an open-set evaluation). */
  removedGroups?: ReadonlySet<string>;
  /** Campaigns left out entirely. */
  removedCampaigns?: ReadonlySet<string>;
  /** Reports held out: not counted among the reports behind an item (a link they share with others stays). */
  heldReports?: ReadonlySet<string>;
}

export const parentTechnique = (id: string): string | undefined => (id.startsWith('T') && id.length > 5 ? id.slice(0, 5) : undefined);

export function buildProfiles(kb: KnowledgeBase, options: ProfileOptions = {}): Profiles {
  const drop = options.drop ?? (() => false);
  const removedGroups = options.removedGroups ?? new Set<string>();
  const removedCampaigns = options.removedCampaigns ?? new Set<string>();
  const campaignGroups = new Map<string, string[]>();
  for (const a of kb.attributedTo) {
    if (removedCampaigns.has(a.source) || removedGroups.has(a.target)) continue;
    const list = campaignGroups.get(a.source);
    if (list) list.push(a.target);
    else campaignGroups.set(a.source, [a.target]);
  }
  const softwareTechniques = new Map<string, string[]>();
  const groups = new Map<string, GroupProfile>();
  for (const g of kb.groups) if (!removedGroups.has(g.id)) groups.set(g.id, { id: g.id, items: new Map(), size: 0 });

  const add = (group: string, item: string, entry: ProfileItem) => {
    const profile = groups.get(group);
    if (!profile) return;
    const old = profile.items.get(item);
    if (!old || old.weight < entry.weight) profile.items.set(item, entry);
  };
  const uses: { owner: string; target: string; citations: readonly string[] }[] = [];
  for (const u of kb.uses) {
    if (drop(u, 'uses')) continue;
    if (u.source.startsWith('S')) {
      const list = softwareTechniques.get(u.source);
      if (list) list.push(u.target);
      else softwareTechniques.set(u.source, [u.target]);
    }
    else if (u.source.startsWith('G')) uses.push({ owner: u.source, target: u.target, citations: u.citations });
    // A campaign is one more account of its group's behaviour, beside the reports it cites.
    else if (!removedCampaigns.has(u.source)) for (const g of campaignGroups.get(u.source) ?? []) uses.push({ owner: g, target: u.target, citations: [...u.citations, u.source] });
  }
  for (const d of kb.describedUses) if (!drop(d, 'described')) uses.push({ owner: d.source, target: d.target, citations: d.citations });

  const reportsOf = new Map<string, Set<string>>();
  for (const { owner, target, citations } of uses) {
    const key = `${owner} ${target}`;
    const seen = reportsOf.get(key) ?? reportsOf.set(key, new Set()).get(key)!;
    for (const c of citations) if (!options.heldReports?.has(c)) seen.add(c);
    add(owner, target, { weight: 1, basis: 'reported', reports: 0 });
    const parent = parentTechnique(target);
    if (parent) add(owner, parent, { weight: PARENT_WEIGHT, basis: 'parent of a reported sub-technique', via: target, reports: 0 });
    if (target.startsWith('S')) {
      for (const t of softwareTechniques.get(target) ?? []) {
        add(owner, t, { weight: SOFTWARE_TECHNIQUE_WEIGHT, basis: 'technique of its software', via: target, reports: 0 });
        const p = parentTechnique(t);
        if (p) add(owner, p, { weight: SOFTWARE_TECHNIQUE_WEIGHT * PARENT_WEIGHT, basis: 'technique of its software', via: target, reports: 0 });
      }
    }
  }
  for (const [key, seen] of reportsOf) {
    const [owner, target] = key.split(' ') as [string, string];
    const entry = groups.get(owner)?.items.get(target);
    if (entry) entry.reports = seen.size;
  }
  const groupsUsing = new Map<string, number>();
  let count = 0;
  let total = 0;
  for (const p of groups.values()) {
    if (!p.items.size) continue;
    count++;
    for (const [item, e] of p.items) {
      p.size += e.weight;
      groupsUsing.set(item, (groupsUsing.get(item) ?? 0) + e.weight);
    }
    total += p.size;
  }
  return { groups, groupsUsing, count, averageSize: count ? total / count : 1 };
}
