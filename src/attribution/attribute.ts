import { CALIBRATION, type Calibration, likelihoodTerm, posterior } from './calibration.js';
import { type CveExploitation, type GroupTrait, loadCommoditySoftware, loadCveExploitation, loadGroupTraits } from './curated.js';
import type { Evidence, EvidenceItem } from './evidence.js';
import { type IpInfo, IpEnricher } from './infrastructure.js';
import type { KnowledgeBase } from './knowledge.js';
import { buildProfiles } from './profiles.js';
import { type ObservedItem, rankGroups } from './rank.js';
import { victimsIn } from './victimology.js';

/**
 * Log-odds that evidence outside ATT&CK's technique and software links adds (CVEs exploited,
 * actors named by a feed, victims, infrastructure). ATT&CK holds no held-out cases of these, so
 * they are set by hand, not fitted: a match counts about as much as a rare technique, a mismatch
 * a fifth of that (reports list only some of a group's victims).
 */
export const TRAIT_WEIGHTS = { cve: 1.5, actorNamed: 2.5, victimMatch: 0.7, victimMismatch: -0.15, infrastructure: 0.7 };

/** One reason for or against a hypothesis. */
export interface Reason {
  kind: EvidenceItem['kind'] | 'infrastructure';
  value: string;
  /** The ATT&CK name of a technique, software or group, when it has one. */
  name?: string;
  /** How it bears on the hypothesis, in words. */
  note: string;
  /** Its weight in the score (points of the ranking, or log-odds of the traits). */
  weight: number;
  source?: string;
}

export interface Candidate {
  rank: number;
  id: string;
  name: string;
  probability: number;
  likelihood: string;
  score: number;
  supporting: Reason[];
  inconsistent: Reason[];
  /** The strongest competing hypothesis, and the evidence that separates the two. */
  alternative?: { id: string; name: string; probability: number; favours: Reason[]; disfavours: Reason[] };
}

export interface Attribution {
  candidates: Candidate[];
  unknown: { probability: number; likelihood: string; note: string };
  evidence: EvidenceItem[];
  infrastructure: IpInfo[];
  knowledge: { attack: string; groups: number };
  notes: string[];
}

export interface AttributeOptions {
  top?: number;
  calibration?: Calibration;
  enricher?: IpEnricher;
}

interface Curated {
  cves: CveExploitation[];
  traits: GroupTrait[];
  commodity: Map<string, { weight: number; source: string }>;
}
let curated: Curated | undefined;
const loadCurated = (): Curated => (curated ??= { cves: loadCveExploitation(), traits: loadGroupTraits(), commodity: loadCommoditySoftware() });

export function attribute(kb: KnowledgeBase, evidence: Evidence, options: AttributeOptions = {}): Attribution {
  const { cves, traits, commodity } = loadCurated();
  const names = new Map<string, string>([...kb.groups, ...kb.software, ...kb.techniques].map((x) => [x.id, x.name]));
  const notes: string[] = [];

  const known = new Set([...kb.techniques, ...kb.software].map((x) => x.id));
  const observed: ObservedItem[] = [];
  for (const item of [...evidence.of('technique'), ...evidence.of('software')]) {
    if (!known.has(item.value)) {
      notes.push(`${item.value} is not in this ATT&CK knowledge base; it was left out`);
      continue;
    }
    const c = commodity.get(item.value);
    observed.push({ id: item.value, ...(c ? { weight: c.weight } : {}) });
  }
  const profiles = buildProfiles(kb);
  const ranked = rankGroups(profiles, observed);

  // Infrastructure: what kinds of network the external addresses are in.
  const enricher = options.enricher ?? new IpEnricher();
  const ips = evidence.of('ip');
  const infrastructure = ips.length && enricher.available ? ips.slice(0, 1000).map((i) => enricher.enrich(i.value)) : [];
  const unkept = evidence.leftOut('ip');
  if (infrastructure.length && (ips.length > infrastructure.length || unkept)) notes.push(`only the first ${infrastructure.length} of ${unkept ? 'more than ' : ''}${ips.length} external addresses were enriched`);
  if (ips.length && !enricher.available) notes.push('the IP address databases (@ip-location-db/asn, @ip-location-db/asn-country) are not installed: addresses were not enriched');
  const leased = infrastructure.filter((i) => i.kind === 'vps' || i.kind === 'hosting' || i.kind === 'cloud');

  const groupSectors = new Map<string, Map<string, string>>();
  const groupCountries = new Map<string, Map<string, string>>();
  const remember = (m: Map<string, Map<string, string>>, g: string, v: string, source: string) => {
    if (!m.has(g)) m.set(g, new Map());
    if (!m.get(g)!.has(v)) m.get(g)!.set(v, source);
  };
  for (const g of kb.groups) {
    const v = victimsIn(g.description);
    for (const s of v.sectors) remember(groupSectors, g.id, s, `ATT&CK ${g.id} description`);
    for (const c of v.countries) remember(groupCountries, g.id, c, `ATT&CK ${g.id} description`);
  }
  for (const t of traits) {
    if (t.trait === 'sector') remember(groupSectors, t.group, t.value, t.source);
    if (t.trait === 'country') remember(groupCountries, t.group, t.value.toUpperCase(), t.source);
  }

  // The evidence of each kind, taken once: the loop below visits every group.
  const seen = { cve: evidence.of('cve'), actor: evidence.of('actor'), sector: evidence.of('sector'), country: evidence.of('country') };
  const reasonsFor = new Map<string, { supporting: Reason[]; inconsistent: Reason[]; logOdds: number }>();
  for (const r of ranked) {
    const supporting: Reason[] = r.supporting.map((c) => ({
      kind: c.item.startsWith('S') ? 'software' : 'technique',
      value: c.item,
      name: names.get(c.item),
      note: c.basis === 'reported' ? `reported used by the group or its campaigns (${c.reports} ${c.reports === 1 ? 'report' : 'reports'})` : `${c.basis}${c.via ? ` (${c.via} ${names.get(c.via) ?? ''})`.replace(' )', ')') : ''}`,
      weight: round(c.points),
    }));
    const inconsistent: Reason[] = r.unexplained.map((id) => ({ kind: id.startsWith('S') ? 'software' : 'technique', value: id, name: names.get(id), note: 'not known to be used by the group (reports cover part of what groups do)', weight: 0 }));
    let logOdds = 0;
    const add = (reason: Reason) => {
      logOdds += reason.weight;
      (reason.weight >= 0 ? supporting : inconsistent).push(reason);
    };
    // The CVEs of one exploit chain are one piece of evidence: counted once, however many were seen.
    const exploited = seen.cve.flatMap((cve) => cves.filter((c) => c.cve === cve.value && c.attackId === r.id));
    if (exploited.length) {
      add({ kind: 'cve', value: exploited.map((c) => c.cve).join(', '), note: `reported exploiting ${exploited.length > 1 ? 'them' : 'it'} (first seen ${exploited[0]!.firstSeen})`, weight: TRAIT_WEIGHTS.cve, source: [...new Set(exploited.map((c) => c.source))].join('; ') });
    }
    for (const a of seen.actor) if (a.value === r.id) add({ kind: 'actor', value: a.value, name: names.get(a.value), note: `named by ${a.from.join(', ')}`, weight: TRAIT_WEIGHTS.actorNamed });
    for (const [kind, table] of [['sector', groupSectors], ['country', groupCountries]] as const) {
      const knownVictims = table.get(r.id);
      for (const v of seen[kind]) {
        if (!knownVictims?.size) continue;
        const source = knownVictims.get(v.value);
        if (source) add({ kind, value: v.value, note: `the group is reported targeting this ${kind}`, weight: TRAIT_WEIGHTS.victimMatch, source });
        else add({ kind, value: v.value, note: `not among the ${kind === 'sector' ? 'sectors' : 'countries'} the group is reported targeting (${[...knownVictims.keys()].join(', ')})`, weight: TRAIT_WEIGHTS.victimMismatch });
      }
    }
    for (const t of traits) {
      if (t.group !== r.id || t.trait !== 'infrastructure' || !leased.length) continue;
      const [, country] = t.value.split(':');
      const fits = leased.filter((i) => !country || i.country?.toLowerCase() === country);
      if (fits.length) {
        const operators = [...new Set(fits.map((i) => i.operator ?? `AS${i.asn}`))].slice(0, 4).join(', ');
        add({ kind: 'infrastructure', value: t.value, note: `${fits.length} address(es) in leased ${country ? `${country.toUpperCase()} ` : ''}server networks (${operators}), as reported of the group`, weight: TRAIT_WEIGHTS.infrastructure, source: t.source });
      }
    }
    reasonsFor.set(r.id, { supporting, inconsistent, logOdds });
  }

  const calibration = options.calibration ?? CALIBRATION;
  const p = posterior(
    ranked.map((r) => r.score),
    calibration,
    ranked.map((r) => reasonsFor.get(r.id)!.logOdds),
  );
  const unknownP = p[p.length - 1]!;
  const order = ranked.map((r, i) => ({ r, p: p[i]! })).sort((a, b) => b.p - a.p || a.r.id.localeCompare(b.r.id));
  const top = Math.max(1, options.top ?? 10);
  const candidates: Candidate[] = order.slice(0, top).map(({ r, p: prob }, i) => {
    const reasons = reasonsFor.get(r.id)!;
    return {
      rank: i + 1,
      id: r.id,
      name: names.get(r.id) ?? r.id,
      probability: round(prob, 4),
      likelihood: likelihoodTerm(prob),
      score: round(r.score),
      supporting: reasons.supporting.sort((a, b) => b.weight - a.weight),
      inconsistent: reasons.inconsistent,
    };
  });
  // Each candidate's strongest alternative: the leader for the others, the runner-up for the leader.
  for (const c of candidates) {
    const alt = c.rank === 1 ? candidates[1] : candidates[0];
    if (!alt) continue;
    const mine = new Set(c.supporting.map((s) => `${s.kind}:${s.value}`));
    const theirs = new Set(alt.supporting.map((s) => `${s.kind}:${s.value}`));
    c.alternative = {
      id: alt.id,
      name: alt.name,
      probability: alt.probability,
      favours: c.supporting.filter((s) => !theirs.has(`${s.kind}:${s.value}`)),
      disfavours: alt.supporting.filter((s) => !mine.has(`${s.kind}:${s.value}`)),
    };
  }
  if (!observed.length && !seen.cve.length && !seen.actor.length) notes.push('no techniques, software, CVEs or named actors in the evidence: nothing points to a group');
  return {
    candidates,
    unknown: { probability: round(unknownP, 4), likelihood: likelihoodTerm(unknownP), note: 'an actor ATT&CK does not describe, or one whose reported behaviour does not include what was seen' },
    evidence: evidence.all(),
    infrastructure,
    knowledge: { attack: kb.version || 'unversioned bundle', groups: profiles.count },
    notes,
  };
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
