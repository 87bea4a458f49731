import { createHash } from 'node:crypto';
import type { KnowledgeBase } from '../attribution/knowledge.js';
import type { CaseReport, SeenIndicator } from './case-report.js';

/**
 * A case as a STIX 2.1 bundle for threat-intelligence platforms (MISP, OpenCTI): the intrusion as a
 * campaign that used the attack patterns and software seen and targeted the vulnerabilities
 * exploited, the indicators matched with their sightings, the leading intrusion-set hypotheses with
 * `attributed-to` relationships whose `confidence` is the calibrated probability, and a report
 * object tying it all together. Ids are name-based (UUIDv5), so exporting the same case twice gives
 * the same ids and a platform merges rather than duplicates.
 */
export type StixObject = Record<string, unknown> & { type: string; id: string };
export interface StixBundle {
  type: 'bundle';
  id: string;
  objects: StixObject[];
}

/** Spoor's namespace for name-based STIX ids. */
const NAMESPACE = Buffer.from('6f1bd1f4a0b54f8f9c3e2f0d7a5c9b41', 'hex');

/** STIX 2.1's namespace for the ids of cyber-observable objects (section 2.9). */
const SCO_NAMESPACE = Buffer.from('00abedb4aa42466c9c01fed23315a9b7', 'hex');

/** A UUIDv5 (RFC 9562) of a name in Spoor's namespace, as a STIX id of the given type. */
export function stixId(type: string, name: string, namespace = NAMESPACE): string {
  const hash = createHash('sha1').update(namespace).update(name).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${type}--${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A cyber-observable object with its id as STIX 2.1 says to make it: UUIDv5 in STIX's namespace of
 * the canonical JSON of its id-contributing properties (here all of them, given in key order).
 */
function observable(type: string, props: Record<string, string>): StixObject {
  const keys = Object.keys(props).sort();
  const canonical = JSON.stringify(Object.fromEntries(keys.map((k) => [k, props[k]])));
  return { type, spec_version: '2.1', id: stixId(type, canonical, SCO_NAMESPACE), ...props };
}

/** A STIX timestamp (UTC, milliseconds) of any time JavaScript reads; undefined for none. */
const stamp = (t: string | undefined) => {
  const ms = t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
};

/** A string literal of STIX patterning: quotes and backslashes escaped. */
const literal = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The STIX pattern of an indicator Spoor matched (undefined for kinds STIX cannot say). */
export function stixPattern(i: Pick<SeenIndicator, 'type' | 'value'>): string | undefined {
  const v = i.value;
  switch (i.type) {
    case 'ip':
      return `[${v.includes(':') ? 'ipv6-addr' : 'ipv4-addr'}:value = ${literal(v)}]`;
    case 'cidr':
      return `[${v.includes(':') ? 'ipv6-addr' : 'ipv4-addr'}:value ISSUBSET ${literal(v)}]`;
    case 'domain':
      return `[domain-name:value = ${literal(v)}]`;
    case 'url':
      return `[url:value = ${literal(v)}]`;
    case 'md5':
      return `[file:hashes.MD5 = ${literal(v)}]`;
    case 'sha1':
      return `[file:hashes.'SHA-1' = ${literal(v)}]`;
    case 'sha256':
      return `[file:hashes.'SHA-256' = ${literal(v)}]`;
    case 'filename':
      return `[file:name = ${literal(v)}]`;
    case 'filepath': {
      const slash = v.lastIndexOf('/');
      return slash < 0 ? `[file:name = ${literal(v)}]` : `[file:name = ${literal(v.slice(slash + 1))} AND file:parent_directory_ref.path = ${literal(v.slice(0, slash))}]`;
    }
    default:
      return undefined;
  }
}

export interface StixOptions {
  kb?: KnowledgeBase;
  /** The investigated organisation's name (default: "Investigated organisation"). */
  victim?: string;
  /** Intrusion-set hypotheses to export (those of at least 1% probability, up to this many). */
  hypotheses?: number;
}

const ATTACK_URL = { technique: 'techniques', software: 'software', group: 'groups' } as const;
const attackRef = (kind: keyof typeof ATTACK_URL, id: string) => ({ source_name: 'mitre-attack', external_id: id, url: `https://attack.mitre.org/${ATTACK_URL[kind]}/${id.replace('.', '/')}` });

export function caseToStix(report: CaseReport, options: StixOptions = {}): StixBundle {
  const created = stamp(report.generated)!;
  const caseKey = `${report.title}\0${report.summary.first ?? ''}\0${report.summary.last ?? ''}`;
  const spoor = { type: 'identity', spec_version: '2.1', id: stixId('identity', 'spoor'), created: '2026-01-01T00:00:00.000Z', modified: '2026-01-01T00:00:00.000Z', name: 'Spoor', identity_class: 'system', description: 'Spoor: Sigma, IoC and YARA hunting with attribution (the tool that produced this bundle).' };
  const common = (type: string, key: string) => ({ type, spec_version: '2.1', id: stixId(type, key), created, modified: created, created_by_ref: spoor.id });
  const objects: StixObject[] = [spoor];
  const sectors = report.attribution?.evidence.filter((e) => e.kind === 'sector').map((e) => e.value.toLowerCase().replace(/\s+/g, '-')) ?? [];
  const victim = { ...common('identity', `victim\0${caseKey}`), name: options.victim ?? 'Investigated organisation', identity_class: 'organization', ...(sectors.length ? { sectors } : {}) };
  objects.push(victim);
  const first = stamp(report.summary.first);
  const last = stamp(report.summary.last);
  const campaign = {
    ...common('campaign', `campaign\0${caseKey}`),
    name: `Intrusion: ${report.title}`,
    description: `Activity found by Spoor: ${report.summary.detections} detections on ${report.summary.hosts.length} host(s).`,
    ...(first ? { first_seen: first, last_seen: last } : {}),
  };
  objects.push(campaign);
  const relationship = (kind: string, source: string, target: string, extra: Record<string, unknown> = {}) =>
    objects.push({ ...common('relationship', `${kind}\0${source}\0${target}`), relationship_type: kind, source_ref: source, target_ref: target, ...extra });
  const sighting = (of: string, key: string, count: number, from?: string, to?: string, description?: string) =>
    objects.push({
      ...common('sighting', `sighting\0${caseKey}\0${key}`),
      sighting_of_ref: of,
      count: Math.min(count, 999_999_999),
      ...(stamp(from) ? { first_seen: stamp(from), last_seen: stamp(to) } : {}),
      where_sighted_refs: [victim.id],
      ...(description ? { description } : {}),
    });
  relationship('targets', campaign.id, victim.id);

  for (const t of report.techniques) {
    const ap = { ...common('attack-pattern', `attack-pattern\0${t.id}`), name: t.name, external_references: [attackRef('technique', t.id)], ...(t.tactics.length ? { kill_chain_phases: t.tactics.map((phase_name) => ({ kill_chain_name: 'mitre-attack', phase_name })) } : {}) };
    objects.push(ap);
    relationship('uses', campaign.id, ap.id);
    sighting(ap.id, `technique\0${t.id}`, t.count, t.first, t.last, `Seen by the rules: ${t.rules.join('; ')}`);
  }

  const softwareIds = new Set(report.attribution?.evidence.filter((e) => e.kind === 'software').map((e) => e.value) ?? []);
  for (const id of softwareIds) {
    const s = options.kb?.software.find((x) => x.id === id);
    if (!s) continue;
    const sdo = s.kind === 'malware'
      ? { ...common('malware', `malware\0${id}`), name: s.name, is_family: true, ...(s.aliases.length ? { aliases: s.aliases } : {}), external_references: [attackRef('software', id)] }
      : { ...common('tool', `tool\0${id}`), name: s.name, ...(s.aliases.length ? { aliases: s.aliases } : {}), external_references: [attackRef('software', id)] };
    objects.push(sdo);
    relationship('uses', campaign.id, sdo.id);
  }

  for (const cve of report.cves) {
    const v = { ...common('vulnerability', `vulnerability\0${cve}`), name: cve, external_references: [{ source_name: 'cve', external_id: cve }] };
    objects.push(v);
    relationship('targets', campaign.id, v.id, { description: 'exploited, as the detections tagged with it show' });
  }

  for (const i of report.indicators) {
    const pattern = stixPattern(i);
    if (!pattern) continue;
    const indicator = {
      ...common('indicator', `indicator\0${i.type}\0${i.value}`),
      name: i.name ?? `${i.type} ${i.value}`,
      description: `From the feed ${i.feed}`,
      indicator_types: ['malicious-activity'],
      pattern,
      pattern_type: 'stix',
      valid_from: stamp(i.first) ?? created,
    };
    objects.push(indicator);
    relationship('indicates', indicator.id, campaign.id);
    sighting(indicator.id, `indicator\0${i.type}\0${i.value}`, i.count, i.first, i.last);
  }

  const hypotheses = (report.attribution?.candidates ?? []).filter((c) => c.probability >= 0.01).slice(0, options.hypotheses ?? 5);
  for (const c of hypotheses) {
    const g = options.kb?.groups.find((x) => x.id === c.id);
    const set = { ...common('intrusion-set', `intrusion-set\0${c.id}`), name: c.name, ...(g?.aliases.length ? { aliases: g.aliases } : {}), external_references: [attackRef('group', c.id)] };
    objects.push(set);
    relationship('attributed-to', campaign.id, set.id, {
      confidence: Math.max(0, Math.min(100, Math.round(100 * c.probability))),
      description: `${c.likelihood} (${(100 * c.probability).toFixed(1)}%), hypothesis ${c.rank} of Spoor's attribution. For: ${c.supporting.slice(0, 5).map((r) => r.name ?? r.value).join(', ') || 'nothing'}.`,
    });
  }

  // The mailboxes reached, as observed data: the mailbox, the addresses it was reached from, the applications.
  const seen = new Map<string, StixObject>();
  const sco = (o: StixObject) => {
    if (!seen.has(o.id)) {
      seen.set(o.id, o);
      objects.push(o);
    }
    return o.id;
  };
  const CONFIDENCE = { high: 85, medium: 50, low: 15 } as const;
  for (const m of report.mailAccess?.mailboxes ?? []) {
    const refs = [
      sco(m.mailbox.includes('@') ? observable('email-addr', { value: m.mailbox }) : observable('user-account', { account_login: m.mailbox })),
      ...m.ips.map((ip) => sco(observable(ip.includes(':') ? 'ipv6-addr' : 'ipv4-addr', { value: ip }))),
      ...m.apps.map((app) => sco(observable('software', { name: app }))),
    ];
    const from = stamp(m.first) ?? created;
    objects.push({
      ...common('observed-data', `mail-access\0${caseKey}\0${m.mailbox}`),
      first_observed: from,
      last_observed: stamp(m.last) ?? from,
      number_observed: Math.max(1, Math.min(m.records, 999_999_999)),
      object_refs: refs,
      confidence: CONFIDENCE[m.confidence],
      labels: ['mail-access', ...m.kinds],
      x_spoor_mail_access: { kinds: m.kinds, protocols: m.protocols, identities: m.identities, folders: m.folders, ...(m.items !== undefined ? { items: m.items } : {}), exports: m.exports, reasons: m.reasons },
    });
  }

  const unknown = report.attribution?.unknown;
  const reportSdo = {
    ...common('report', `report\0${caseKey}`),
    name: report.title,
    description: [
      `${report.summary.detections} detections${first ? ` from ${first} to ${last}` : ''}.`,
      unknown ? `Attribution: ${hypotheses.map((c) => `${c.name} ${(100 * c.probability).toFixed(1)}%`).join(', ') || 'no group'}; an unknown or unlisted group ${(100 * unknown.probability).toFixed(1)}% (${unknown.likelihood}).` : report.attributionNote ?? '',
    ].filter(Boolean).join(' '),
    published: created,
    report_types: ['threat-report'],
    object_refs: objects.map((o) => o.id),
  };
  objects.push(reportSdo);
  return { type: 'bundle', id: stixId('bundle', `${caseKey}\0${created}`), objects };
}
