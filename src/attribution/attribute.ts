import { CALIBRATION, type Calibration, likelihoodTerm, posterior } from './calibration.js';
import { loadCommoditySoftware } from './curated.js';
import type { Evidence, EvidenceItem } from './evidence.js';
import { factsByGroup, INFRASTRUCTURE_FITS } from './facts.js';
import { type IpInfo, IpEnricher } from './infrastructure.js';
import { attackVersion, type KnowledgeBase } from './knowledge.js';
import { buildProfiles } from './profiles.js';
import { type ObservedItem, rankGroups } from './rank.js';
import { countryName } from './victimology.js';

/**
 * Log-odds that evidence outside ATT&CK's technique and software links adds (CVEs exploited,
 * actors named by a feed, victims, infrastructure). ATT&CK holds no held-out cases of these, so
 * they are set by hand, not fitted: a match counts about as much as a rare technique, a mismatch
 * a fifth of that (reports list only some of a group's victims).
 */
export const TRAIT_WEIGHTS = { cve: 1.5, actorNamed: 2.5, victimMatch: 0.7, victimMismatch: -0.15, infrastructure: 0.7 };
/** Below this, no item of the evidence weighs as much as a medium-level detection of a tested rule (0.5 × 0.9). */
const WEAK_EVIDENCE = 0.4;
/** Infrastructure of compromised devices fits any ordinary (ISP) address: it counts half. */
const WEAK_INFRASTRUCTURE = new Set(['compromised']);

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
  /** Microsoft's name for the group (Silk Typhoon), when the MISP galaxy gives one. */
  microsoftName?: string;
  /** Other vendors' names (MURKY PANDA, ATK233 …), a few. */
  otherNames?: string[];
  /** Suspected origin and state sponsor (ISO codes), as the galaxy gives them. */
  origin?: string;
  sponsor?: string;
  probability: number;
  likelihood: string;
  score: number;
  supporting: Reason[];
  inconsistent: Reason[];
  /** The strongest competing hypothesis, and the evidence that separates the two. */
  alternative?: { id: string; name: string; microsoftName?: string; probability: number; favours: Reason[]; disfavours: Reason[] };
}

export interface Attribution {
  /** The leading hypothesis in one sentence: a group, or "an unknown or unlisted group" when that is likelier. */
  headline: string;
  /** Whether the unknown hypothesis is likelier than every listed group. */
  unknownLeads: boolean;
  /**
   * Whether nothing seen weighs as much as a medium-level detection: only low and informational
   * findings, which ordinary activity raises too. Attribution assumes an intrusion; these may show none.
   */
  weakEvidence: boolean;
  candidates: Candidate[];
  unknown: { probability: number; likelihood: string; note: string };
  evidence: EvidenceItem[];
  infrastructure: IpInfo[];
  knowledge: { attack: string; groups: number; sources: string[] };
  notes: string[];
}

export interface AttributeOptions {
  top?: number;
  calibration?: Calibration;
  enricher?: IpEnricher;
}

let commodity: Map<string, { weight: number; source: string }> | undefined;

export function attribute(kb: KnowledgeBase, evidence: Evidence, options: AttributeOptions = {}): Attribution {
  commodity ??= loadCommoditySoftware();
  const names = new Map<string, string>([...kb.groups, ...kb.software, ...kb.techniques].map((x) => [x.id, x.name]));
  const notes: string[] = [];

  const known = new Set([...kb.techniques, ...kb.software].map((x) => x.id));
  const observed: ObservedItem[] = [];
  for (const item of [...evidence.of('technique'), ...evidence.of('software')]) {
    if (!known.has(item.value)) {
      notes.push(`${item.value} is not in this ATT&CK knowledge base; it was left out`);
      continue;
    }
    // A commodity tool says little of who used it; a weak detection says little that it was used.
    observed.push({ id: item.value, weight: (commodity.get(item.value)?.weight ?? 1) * item.weight });
  }
  const profiles = buildProfiles(kb);
  const ranked = rankGroups(profiles, observed);

  // Infrastructure: what kinds of network the external addresses are in.
  const enricher = options.enricher ?? new IpEnricher();
  const ips = evidence.of('ip');
  const infrastructure = ips.length && enricher.available ? ips.slice(0, 1000).map((i) => enricher.enrich(i.value)) : [];
  const ipWeight = new Map(ips.map((i) => [i.value, i.weight]));
  const unkept = evidence.leftOut('ip');
  if (infrastructure.length && (ips.length > infrastructure.length || unkept)) notes.push(`only the first ${infrastructure.length} of ${unkept ? 'more than ' : ''}${ips.length} external addresses were enriched`);
  if (ips.length && !enricher.available) notes.push('the IP address databases (@ip-location-db/asn, @ip-location-db/asn-country) are not installed: addresses were not enriched');

  const facts = {
    cve: factsByGroup(kb.facts, 'cve'),
    sector: factsByGroup(kb.facts, 'sector'),
    country: factsByGroup(kb.facts, 'country'),
    infrastructure: factsByGroup(kb.facts, 'infrastructure'),
    microsoft: factsByGroup(kb.facts, 'microsoft-name'),
    name: factsByGroup(kb.facts, 'name'),
    origin: factsByGroup(kb.facts, 'origin'),
    sponsor: factsByGroup(kb.facts, 'sponsor'),
  };

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
    // The CVEs of one exploit chain are one piece of evidence: counted once, however many were seen,
    // at the weight of the strongest detection that showed one.
    const groupCves = facts.cve.get(r.id);
    const exploited = groupCves ? seen.cve.filter((c) => groupCves.has(c.value)) : [];
    if (exploited.length) {
      const strongest = Math.max(...exploited.map((c) => c.weight));
      add({ kind: 'cve', value: exploited.map((c) => c.value).join(', '), note: `reported exploiting ${exploited.length > 1 ? 'them' : 'it'}`, weight: round(TRAIT_WEIGHTS.cve * strongest), source: [...new Set(exploited.map((c) => groupCves!.get(c.value)!))].join('; ') });
    }
    for (const a of seen.actor) if (a.value === r.id) add({ kind: 'actor', value: a.value, name: names.get(a.value), note: `named by ${a.from.join(', ')}`, weight: round(TRAIT_WEIGHTS.actorNamed * a.weight) });
    for (const kind of ['sector', 'country'] as const) {
      const knownVictims = facts[kind].get(r.id);
      for (const v of seen[kind]) {
        if (!knownVictims?.size) continue;
        const source = knownVictims.get(v.value);
        if (source) add({ kind, value: v.value, note: `the group is reported targeting this ${kind}`, weight: round(TRAIT_WEIGHTS.victimMatch * v.weight), source });
        else add({ kind, value: v.value, note: `not among the ${kind === 'sector' ? 'sectors' : 'countries'} the group is reported targeting (${[...knownVictims.keys()].join(', ')})`, weight: round(TRAIT_WEIGHTS.victimMismatch * v.weight) });
      }
    }
    // Infrastructure the group is reported to run from, met by addresses in networks of that kind
    // (and country, when the report names one): the strongest fit counts, once.
    let best: Reason | undefined;
    for (const [trait, source] of facts.infrastructure.get(r.id) ?? []) {
      const [kind, country] = trait.split(':') as [string, string | undefined];
      const fits = infrastructure.filter((i) => (INFRASTRUCTURE_FITS[kind] ?? []).includes(i.kind) && (!country || i.country === country));
      if (!fits.length) continue;
      const weight = round(TRAIT_WEIGHTS.infrastructure * Math.max(...fits.map((i) => ipWeight.get(i.ip) ?? 1)) * (WEAK_INFRASTRUCTURE.has(kind) ? 0.5 : 1) * (country ? 1 : 0.75));
      if (best && best.weight >= weight) continue;
      const operators = [...new Set(fits.map((i) => i.operator ?? `AS${i.asn}`))].slice(0, 4).join(', ');
      best = { kind: 'infrastructure', value: trait, note: `${fits.length} address(es) in ${kind === 'compromised' ? 'ordinary (ISP) networks, where relays on compromised devices sit' : `${kind === 'vps' || kind === 'hosting' ? 'leased server' : kind} networks${country ? ` in ${country}` : ''}`} (${operators}), as reported of the group`, weight, source };
    }
    if (best) add(best);
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
    const microsoft = [...(facts.microsoft.get(r.id)?.keys() ?? [])];
    const own = new Set([names.get(r.id)?.toLowerCase(), ...microsoft.map((m) => m.toLowerCase())]);
    const others = [...(facts.name.get(r.id)?.keys() ?? [])].filter((n) => !own.has(n.toLowerCase())).slice(0, 6);
    const origin = [...(facts.origin.get(r.id)?.keys() ?? [])][0];
    const sponsor = [...(facts.sponsor.get(r.id)?.keys() ?? [])][0];
    return {
      rank: i + 1,
      id: r.id,
      name: names.get(r.id) ?? r.id,
      ...(microsoft.length ? { microsoftName: microsoft[0] } : {}),
      ...(others.length ? { otherNames: others } : {}),
      ...(origin ? { origin } : {}),
      ...(sponsor ? { sponsor } : {}),
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
      ...(alt.microsoftName ? { microsoftName: alt.microsoftName } : {}),
      probability: alt.probability,
      favours: c.supporting.filter((s) => !theirs.has(`${s.kind}:${s.value}`)),
      disfavours: alt.supporting.filter((s) => !mine.has(`${s.kind}:${s.value}`)),
    };
  }
  if (!observed.length && !seen.cve.length && !seen.actor.length) notes.push('no techniques, software, CVEs or named actors in the evidence: nothing points to a group');
  const unknownLeads = !candidates.length || unknownP > candidates[0]!.probability;
  const seenWeights = evidence.all().filter((i) => i.kind !== 'sector' && i.kind !== 'country').map((i) => i.weight);
  const weakEvidence = seenWeights.length === 0 || Math.max(...seenWeights) < WEAK_EVIDENCE;
  if (weakEvidence && seenWeights.length) notes.push('every finding is low or informational (nothing weighs as much as a medium-level detection): they may show ordinary activity, not an intrusion to attribute');
  return {
    headline: headlineOf(candidates, { probability: unknownP, likelihood: likelihoodTerm(unknownP) }, unknownLeads),
    unknownLeads,
    weakEvidence,
    candidates,
    unknown: { probability: round(unknownP, 4), likelihood: likelihoodTerm(unknownP), note: 'an actor ATT&CK does not describe, or one whose reported behaviour does not include what was seen' },
    evidence: evidence.all(),
    infrastructure,
    knowledge: { attack: attackVersion(kb), groups: profiles.count, sources: kb.provenance ?? [`ATT&CK ${attackVersion(kb)}`] },
    notes,
  };
}

const pct = (p: number) => (p < 0.001 ? '<0.1%' : `${(100 * p).toFixed(1)}%`);

/** A group as people know it: its ATT&CK name with Microsoft's beside it ("HAFNIUM (Silk Typhoon)"). */
export function displayName(c: Pick<Candidate, 'name' | 'microsoftName'>): string {
  return c.microsoftName && c.microsoftName.toLowerCase() !== c.name.toLowerCase() ? `${c.name} (${c.microsoftName})` : c.name;
}

const describe = (c: Candidate) => `${displayName(c)}, ${c.id}${c.origin ? `, suspected origin ${countryName(c.origin)}` : ''}`;

function headlineOf(candidates: readonly Candidate[], unknown: { probability: number; likelihood: string }, unknownLeads: boolean): string {
  const first = candidates[0];
  if (!first) return `Leading hypothesis: an unknown or unlisted group (${pct(unknown.probability)}): nothing points to a known group.`;
  if (unknownLeads) return `Leading hypothesis: an unknown or unlisted group, ${unknown.likelihood} (${pct(unknown.probability)}); of the known groups, ${describe(first)} ranks first, ${first.likelihood} (${pct(first.probability)}).`;
  const next = candidates[1];
  return `Leading hypothesis: ${describe(first)}, ${first.likelihood} (${pct(first.probability)})${next ? `; next ${displayName(next)}, ${pct(next.probability)}` : ''}; an unknown or unlisted group ${pct(unknown.probability)}.`;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
