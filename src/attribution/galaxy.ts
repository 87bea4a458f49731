import { infrastructureIn } from './attack-facts.js';
import type { GroupFact } from './facts.js';
import type { KnowledgeBase } from './knowledge.js';
import { countryCode, sectorOf, victimsIn } from './victimology.js';
import { cvesNamedIn } from './vulnerabilities.js';

/**
 * The MISP galaxy's threat actors and Microsoft's activity groups (MISP/misp-galaxy, CC0), kept as
 * what attribution reads of each cluster: its names across vendors, suspected origin and sponsor,
 * victims, CVEs and infrastructure its description states, and the ATT&CK groups it names. Clusters
 * are matched to ATT&CK groups when knowledge is loaded, so a newer ATT&CK gets them too.
 */
export interface GalaxyCluster {
  galaxy: 'threat-actor' | 'microsoft-activity-group';
  uuid: string;
  value: string;
  synonyms: string[];
  /** ATT&CK group ids the cluster names (`name-attribution`, `synonyms`, its ATT&CK reference). */
  attackIds: string[];
  /** Clusters of the other galaxy it is related to (Microsoft's group ↔ the threat actor). */
  related: string[];
  origin?: string;
  sponsor?: string;
  sectors: string[];
  victims: string[];
  cves: string[];
  infrastructure: string[];
}

export class GalaxyError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
const uniq = (xs: Iterable<string>) => [...new Set(xs)];

/** The clusters of a MISP galaxy cluster file (threat-actor.json, microsoft-activity-group.json). */
export function clustersFromGalaxy(doc: unknown): GalaxyCluster[] {
  if (!isObj(doc) || !Array.isArray(doc.values)) throw new GalaxyError('not a MISP galaxy cluster file (no "values")');
  const galaxy = doc.type === 'microsoft-activity-group' ? 'microsoft-activity-group' : doc.type === 'threat-actor' ? 'threat-actor' : undefined;
  if (!galaxy) throw new GalaxyError(`galaxy type "${String(doc.type)}": expected threat-actor or microsoft-activity-group`);
  const out: GalaxyCluster[] = [];
  for (const v of doc.values) {
    if (!isObj(v) || typeof v.value !== 'string' || typeof v.uuid !== 'string') continue;
    const meta = isObj(v.meta) ? v.meta : {};
    const synonyms = uniq(strs(meta.synonyms).map((s) => s.trim()).filter((s) => s && s !== v.value));
    const attackIds = uniq([
      ...[...strs(meta['name-attribution']), ...synonyms].map((s) => s.split(':')[0]!.trim()).filter((s) => /^G\d{4}$/.test(s)),
      ...strs(meta.refs).flatMap((r) => [...r.matchAll(/attack\.mitre\.org\/groups\/(G\d{4})/g)].map((m) => m[1]!)),
    ]);
    const description = typeof v.description === 'string' ? v.description : '';
    const described = victimsIn(description);
    const origin = strs(meta.country).map((c) => c.trim().toUpperCase()).find((c) => /^[A-Z]{2}$/.test(c));
    const sponsor = strs(meta['cfr-suspected-state-sponsor']).map(countryCode).find(Boolean);
    out.push({
      galaxy,
      uuid: v.uuid,
      value: v.value.trim(),
      synonyms: synonyms.filter((s) => !/^G\d{4}$/.test(s)),
      attackIds,
      related: Array.isArray(v.related) ? v.related.filter(isObj).map((r) => String(r['dest-uuid'] ?? '')).filter(Boolean) : [],
      ...(origin ? { origin } : {}),
      ...(sponsor ? { sponsor } : {}),
      sectors: uniq([...strs(meta['cfr-target-category']), ...strs(meta['targeted-sector'])].map(sectorOf).filter((s): s is string => !!s).concat(described.sectors)),
      victims: uniq([...strs(meta['cfr-suspected-victims']).map(countryCode).filter((c): c is string => !!c), ...described.countries]),
      cves: uniq(cvesNamedIn(description).map((c) => c.cve)),
      infrastructure: infrastructureIn(description),
    });
  }
  return out;
}

const key = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * Which ATT&CK group each cluster is: the group it names, else the one its name or synonyms name
 * (its own name first: the "APT17" cluster lists Axiom's names too), else, for Microsoft's groups,
 * the group of the threat actor it is related to. A cluster that stays ambiguous is left out.
 */
export function matchClusters(clusters: readonly GalaxyCluster[], kb: Pick<KnowledgeBase, 'groups'>): Map<GalaxyCluster, string> {
  const groups = new Set(kb.groups.map((g) => g.id));
  const primary = new Map<string, string>();
  const byName = new Map<string, Set<string>>();
  for (const g of kb.groups) {
    primary.set(key(g.name), g.id);
    for (const n of [g.name, ...g.aliases]) {
      const k = key(n);
      if (!byName.has(k)) byName.set(k, new Set());
      byName.get(k)!.add(g.id);
    }
  }
  const out = new Map<GalaxyCluster, string>();
  const pick = (c: GalaxyCluster): string | undefined => {
    const own = primary.get(key(c.value));
    const direct = c.attackIds.filter((id) => groups.has(id));
    if (direct.length === 1) return direct[0];
    if (direct.length > 1) return own && direct.includes(own) ? own : undefined;
    if (own) return own;
    const hits = new Map<string, number>();
    for (const n of [c.value, ...c.synonyms]) for (const g of byName.get(key(n)) ?? []) hits.set(g, (hits.get(g) ?? 0) + 1);
    const ownAlias = byName.get(key(c.value));
    if (ownAlias?.size === 1) return [...ownAlias][0];
    const ranked = [...hits].sort((a, b) => b[1] - a[1]);
    return ranked.length && (ranked.length === 1 || ranked[0]![1] > ranked[1]![1]) ? ranked[0]![0] : undefined;
  };
  for (const c of clusters) {
    const g = pick(c);
    if (g) out.set(c, g);
  }
  const byUuid = new Map(clusters.map((c) => [c.uuid, c]));
  for (const c of clusters) {
    if (out.has(c) || c.galaxy !== 'microsoft-activity-group') continue;
    const via = uniq(c.related.map((u) => byUuid.get(u)).filter((r): r is GalaxyCluster => !!r && out.has(r)).map((r) => out.get(r)!));
    if (via.length === 1) out.set(c, via[0]!);
  }
  return out;
}

/**
 * Microsoft's names since April 2023: a weather event for the origin or kind (Typhoon: China,
 * Blizzard: Russia, Sandstorm: Iran, Sleet: North Korea, Tempest: financially motivated …) and
 * Storm-NNNN for groups in development. Its file also keeps clusters under the older names (HAFNIUM).
 */
const MICROSOFT_NAME = /\b(Typhoon|Blizzard|Sandstorm|Sleet|Tempest|Dust|Flood|Hail|Cyclone|Rain|Tsunami)$|^Storm-\d+$/;

/** The facts the clusters give of the ATT&CK groups they match. */
export function galaxyFacts(clusters: readonly GalaxyCluster[], kb: Pick<KnowledgeBase, 'groups'>): GroupFact[] {
  const out: GroupFact[] = [];
  for (const [c, group] of matchClusters(clusters, kb)) {
    const source = `MISP galaxy ${c.galaxy} "${c.value}"`;
    const add = (kind: GroupFact['kind'], value: string) => out.push({ group, kind, value, source });
    add(c.galaxy === 'microsoft-activity-group' && MICROSOFT_NAME.test(c.value) ? 'microsoft-name' : 'name', c.value);
    for (const s of c.synonyms) add('name', s);
    if (c.origin) add('origin', c.origin);
    if (c.sponsor) add('sponsor', c.sponsor);
    for (const s of c.sectors) add('sector', s);
    for (const v of c.victims) add('country', v);
    for (const cve of c.cves) add('cve', cve);
    for (const i of c.infrastructure) add('infrastructure', i);
  }
  return out;
}
