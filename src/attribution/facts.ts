/**
 * What sources say of a group beyond the techniques and software it uses, each with its source:
 * its other names (Microsoft's among them), where it is suspected to come from and who sponsors it,
 * the sectors and countries of its victims, the CVEs it exploited, and the infrastructure it ran
 * from ("vps:US": leased virtual private servers in the US). Attribution weighs the last four; names
 * resolve what analysts, feeds and case files call a group.
 */
export type FactKind = 'name' | 'microsoft-name' | 'origin' | 'sponsor' | 'sector' | 'country' | 'cve' | 'infrastructure';

export interface GroupFact {
  /** ATT&CK group id. */
  group: string;
  kind: FactKind;
  /** A name; an ISO country code; a sector of Spoor's vocabulary; a CVE id; an infrastructure kind, `kind:CC` when a country is said. */
  value: string;
  /** Where it is said: an ATT&CK object and the reports it cites, a MISP galaxy cluster, a curated row's source. */
  source: string;
}

/**
 * Infrastructure kinds groups are reported to operate from, and the kinds of network (see
 * infrastructure.ts) an address must be in to fit each.
 */
export const INFRASTRUCTURE_FITS: Record<string, readonly string[]> = {
  vps: ['vps', 'hosting', 'cloud'],
  hosting: ['vps', 'hosting', 'cloud'],
  cloud: ['cloud'],
  vpn: ['vpn'],
  tor: ['vpn'],
  compromised: ['other'],
};

/** Facts of one kind by group, each value once (the first source kept). */
export function factsByGroup(facts: readonly GroupFact[], kind: FactKind): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const f of facts) {
    if (f.kind !== kind) continue;
    let values = out.get(f.group);
    if (!values) out.set(f.group, (values = new Map()));
    if (!values.has(f.value)) values.set(f.value, f.source);
  }
  return out;
}
