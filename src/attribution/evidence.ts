import ipaddr from 'ipaddr.js';
import { isExternal } from './infrastructure.js';
import { type KnowledgeIndex, vendorNames } from './knowledge.js';
import { normaliseCountry, normaliseSector } from './victimology.js';
import { cvesOfTags } from '../common/cve.js';
import { type RuleNoise, ruleNoise } from './rule-noise.js';
import { cvesNamedIn } from './vulnerabilities.js';

/**
 * What attribution weighs, each item with where it came from: techniques, software, CVEs, actors
 * named by an IoC feed, external addresses, and the analyst's victim sector and country.
 */
export type EvidenceKind = 'technique' | 'software' | 'cve' | 'actor' | 'ip' | 'sector' | 'country';

export interface EvidenceItem {
  kind: EvidenceKind;
  /** ATT&CK id (T1190, S0020, G0125), CVE id, address, sector or country code. */
  value: string;
  /** Where it came from: a rule's title, a feed, "analyst". */
  from: string[];
  /**
   * How much it says, about 0 to 1.25: 1 for what an analyst or a case file states; for what
   * detections show, the strongest detection's strength (its rule's level, status and how often the
   * rule fires on ordinary activity), raised a little by the distinct events and hosts it was seen on.
   */
  weight: number;
  /** Distinct events and hosts it was seen on (0 for what was stated). */
  events: number;
  hosts: number;
}

/** One detection's showing of an item: how strong the detection is, the event and host it was on. */
export interface Sighting {
  strength: number;
  event?: string;
  host?: string;
}

/** Distinct items kept of one kind: a hunt over a large log can match millions of addresses. */
export const MAX_ITEMS_PER_KIND = 10_000;
/** Distinct events and hosts counted per item: past these, the weight no longer grows anyway. */
const MAX_EVENTS_COUNTED = 1000;
const MAX_HOSTS_COUNTED = 100;
/** The most an item's weight can reach, however often it was seen. */
export const MAX_ITEM_WEIGHT = 1.25;

interface Held {
  item: EvidenceItem;
  stated: boolean;
  strength: number;
  events: Set<string>;
  hosts: Set<string>;
}

export class Evidence {
  private readonly items = new Map<string, Held>();
  private readonly counts = new Map<EvidenceKind, number>();
  private readonly left = new Map<EvidenceKind, number>();

  /** Adds an item; without a sighting it is stated (an analyst's, a case file's) and weighs 1. */
  add(kind: EvidenceKind, value: string, from: string, sighting?: Sighting): void {
    const key = `${kind}\0${value}`;
    let held = this.items.get(key);
    if (!held) {
      const count = this.counts.get(kind) ?? 0;
      // Past the limit, new items are counted (roughly: one seen twice counts twice), not kept.
      if (count >= MAX_ITEMS_PER_KIND) {
        this.left.set(kind, (this.left.get(kind) ?? 0) + 1);
        return;
      }
      held = { item: { kind, value, from: [], weight: 0, events: 0, hosts: 0 }, stated: false, strength: 0, events: new Set(), hosts: new Set() };
      this.items.set(key, held);
      this.counts.set(kind, count + 1);
    }
    if (!held.item.from.includes(from) && held.item.from.length < 20) held.item.from.push(from);
    if (!sighting) held.stated = true;
    else {
      held.strength = Math.max(held.strength, sighting.strength);
      if (sighting.event && held.events.size < MAX_EVENTS_COUNTED) held.events.add(sighting.event);
      if (sighting.host && held.hosts.size < MAX_HOSTS_COUNTED) held.hosts.add(sighting.host);
    }
    const i = held.item;
    i.events = held.events.size;
    i.hosts = held.hosts.size;
    // Seen on many hosts says more than seen once; seen again and again on one host says little more
    // (a monitoring agent's script fires every minute), so events count for less than hosts.
    const seen = held.strength * (1 + 0.05 * Math.log(Math.max(1, i.events))) * (1 + 0.15 * Math.log(Math.max(1, i.hosts)));
    i.weight = Math.min(MAX_ITEM_WEIGHT, Math.max(held.stated ? 1 : 0, seen));
  }

  /** Items of a kind that came past the limit and were not kept. */
  leftOut(kind: EvidenceKind): number {
    return this.left.get(kind) ?? 0;
  }

  of(kind: EvidenceKind): EvidenceItem[] {
    return [...this.items.values()].filter((h) => h.item.kind === kind).map((h) => h.item);
  }

  all(): EvidenceItem[] {
    return [...this.items.values()].map((h) => h.item);
  }

  get size(): number {
    return this.items.size;
  }
}

export class EvidenceError extends Error {}

/** A case file's shape: `{"techniques":[…],"software":[…],"cves":[…],"sectors":[…],"countries":[…],"ips":[…],"actors":[…]}`. */
export function evidenceFromCase(doc: unknown, index: KnowledgeIndex, from = 'case file'): Evidence {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new EvidenceError('a case file is a JSON object with techniques, software, cves, sectors, countries');
  const d = doc as Record<string, unknown>;
  const list = (key: string): string[] => {
    const v = d[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new EvidenceError(`"${key}" must be a list of strings`);
    return v as string[];
  };
  const known = new Set(['techniques', 'software', 'cves', 'sectors', 'countries', 'ips', 'actors']);
  const unknownKeys = Object.keys(d).filter((k) => !known.has(k));
  if (unknownKeys.length) throw new EvidenceError(`unknown key(s) ${unknownKeys.map((k) => `"${k}"`).join(', ')}; expected ${[...known].join(', ')}`);
  const e = new Evidence();
  for (const t of list('techniques')) e.add('technique', techniqueId(t, index), from);
  for (const s of list('software')) e.add('software', entityId(s, index, 'software'), from);
  for (const c of list('cves')) {
    if (!/^CVE-\d{4}-\d{4,}$/i.test(c.trim())) throw new EvidenceError(`"${c}" is not a CVE id`);
    e.add('cve', c.trim().toUpperCase(), from);
  }
  for (const s of list('sectors')) e.add('sector', normaliseSector(s), from);
  for (const c of list('countries')) e.add('country', normaliseCountry(c), from);
  for (const ip of list('ips')) {
    if (!ipaddr.isValid(ip.trim())) throw new EvidenceError(`"${ip}" is not an IP address`);
    e.add('ip', ipaddr.parse(ip.trim()).toString(), from);
  }
  for (const a of list('actors')) e.add('actor', entityId(a, index, 'group'), from);
  return e;
}

function techniqueId(t: string, index: KnowledgeIndex): string {
  const id = t.trim().toUpperCase();
  if (/^T\d{4}(\.\d{3})?$/.test(id)) return id;
  const hit = index.find(t).find((x) => x.kind === 'technique');
  if (!hit) throw new EvidenceError(`"${t}" is not an ATT&CK technique id or name`);
  return hit.id;
}

function entityId(name: string, index: KnowledgeIndex, kind: 'software' | 'group'): string {
  const hit = index.find(name).find((x) => x.kind === kind);
  if (!hit) throw new EvidenceError(`"${name}" is not ATT&CK ${kind} (id, name or alias)`);
  return hit.id;
}

/** A detection as hunt's JSONL output writes it (the fields attribution reads). */
export interface DetectionRecord {
  rule: { id?: string | null; title: string; level?: string | null; status?: string | null; tags?: string[]; cves?: string[]; description?: string | null; file?: string };
  matched?: Record<string, unknown>;
  event?: unknown;
  /** Where the detection was: its file and record (or time), and its host, for counting distinct events and hosts. */
  file?: string;
  record_id?: string | number;
  timestamp?: string;
  computer?: string;
}

const FIELD_WITH_ADDRESS = /(^|[-_.])(c-ip|clientip|client_ip|ipaddress|ip_address|sourceaddress|source_ip|sourceip|src_?ip|remoteaddress|remote_ip|x-forwarded-for|originatingip|clientipaddress|indicator)$/i;

/**
 * How much one detection says, 0 to 1: its rule's level (a critical ProxyLogon detection outweighs a
 * dozen informational ones), its status, and how specific it is: rules that fire on ordinary
 * activity (measured on benign data, `data/attribution/rule-noise.csv`) and threat-hunting rules,
 * which are meant to, say little of an intrusion.
 */
export const LEVEL_STRENGTH: Record<string, number> = { critical: 1, high: 0.8, medium: 0.5, low: 0.25, informational: 0.1 };
export const STATUS_STRENGTH: Record<string, number> = { stable: 1, test: 0.9, experimental: 0.8, deprecated: 0.5, unsupported: 0.5 };
export const HUNTING_STRENGTH = 0.5;

export function detectionStrength(rule: DetectionRecord['rule'], noise: RuleNoise): number {
  const level = LEVEL_STRENGTH[(rule.level ?? '').toLowerCase()] ?? LEVEL_STRENGTH.medium!;
  const status = STATUS_STRENGTH[(rule.status ?? '').toLowerCase()] ?? 1;
  const hunting = rule.tags?.includes('detection.threat-hunting') ? HUNTING_STRENGTH : 1;
  return level * status * hunting * noise.specificity(rule.id ?? undefined);
}

/**
 * What a hunt's detections show, each weighed by the detection's strength and counted by event and
 * host: techniques, software and CVEs from the rules' tags (attack.t1190, attack.s0020,
 * cve.2021-26855), the CVEs a rule's title, description or references name (by id or by name:
 * "ProxyLogon"), software and groups named in YARA rules' descriptions and IoC feeds, and the external
 * addresses the matched events came from. Exposure findings say what a server is open to, not what was
 * done to it: they are left out.
 */
export function evidenceFromDetections(records: Iterable<DetectionRecord>, index: KnowledgeIndex, names = new NameFinder(index), e = new Evidence(), noise = ruleNoise()): Evidence {
  for (const r of records) {
    const tags = r.rule.tags ?? [];
    if (tags.includes('detection.exposure')) continue;
    const from = `rule "${r.rule.title}"`;
    const at = r.record_id !== undefined && r.record_id !== '' ? r.record_id : r.timestamp;
    const sighting: Sighting = { strength: detectionStrength(r.rule, noise), ...(r.file || at ? { event: `${r.file ?? ''}#${at ?? ''}` } : {}), ...(r.computer ? { host: r.computer.toLowerCase() } : {}) };
    for (const tag of tags) {
      const t = tag.toLowerCase();
      let m: RegExpMatchArray | null;
      if ((m = /^attack\.(t\d{4}(?:\.\d{3})?)$/.exec(t))) e.add('technique', m[1]!.toUpperCase(), from, sighting);
      else if ((m = /^attack\.(s\d{4})$/.exec(t))) e.add('software', m[1]!.toUpperCase(), from, sighting);
      else if ((m = /^attack\.(g\d{4})$/.exec(t))) e.add('actor', m[1]!.toUpperCase(), from, sighting);
    }
    for (const cve of cvesOfDetection(r.rule)) e.add('cve', cve, from, sighting);
    const matched = r.matched ?? {};
    // YARA rules and IoC feeds name malware and actors in prose ("China Chopper and its kin"); Sigma
    // rules tag them instead, and their prose names what they detect, not who used it.
    const prose = tags.includes('detection.yara') || tags.includes('detection.ioc') ? [r.rule.description, matched.description, matched.feed, matched.indicator_name].filter((x): x is string => typeof x === 'string') : [];
    for (const text of prose) {
      for (const hit of names.find(text)) e.add(hit.kind === 'group' ? 'actor' : 'software', hit.id, typeof matched.feed === 'string' ? `feed ${matched.feed}` : from, sighting);
    }
    for (const ip of addressesIn(matched, r.event)) e.add('ip', ip, from, sighting);
  }
  return e;
}

/** The CVEs a detection's rule is about: its `cves` (as hunt computed them), tags, and the ids and vulnerability names its texts give. */
export function cvesOfDetection(rule: DetectionRecord['rule']): string[] {
  const text = [rule.title, rule.description ?? ''].join('\n');
  return [...new Set([...(rule.cves ?? []), ...cvesOfTags(rule.tags ?? []), ...cvesNamedIn(text).map((c) => c.cve)])];
}

function addressesIn(matched: Record<string, unknown>, event: unknown): string[] {
  const out = new Set<string>();
  const visit = (obj: unknown, depth: number) => {
    if (!obj || typeof obj !== 'object' || depth > 4) return;
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (typeof v === 'string' && FIELD_WITH_ADDRESS.test(k)) {
        const ip = v.trim().replace(/^::ffff:/i, '');
        if (isExternal(ip)) out.add(ipaddr.parse(ip).toString());
      } else if (typeof v === 'object') visit(v, depth + 1);
    }
  };
  visit(matched, 0);
  visit(event, 0);
  return [...out];
}

/**
 * Finds ATT&CK software and group names in prose, as whole words with their capitals: names of five
 * or more characters, so that short or common aliases ("Net", Elise's "Page") do not match every
 * sentence.
 */
export class NameFinder {
  private readonly names: { re: RegExp; kind: 'software' | 'group'; id: string }[] = [];

  constructor(index: KnowledgeIndex) {
    const kb = index.kb;
    const add = (name: string, kind: 'software' | 'group', id: string) => {
      if (name.length < 5 || /^[a-z.]+$/.test(name)) return;
      this.names.push({ re: new RegExp(`(^|[^\\w])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w])`), kind, id });
    };
    for (const s of kb.software) for (const n of [s.name, ...s.aliases]) add(n, 'software', s.id);
    for (const g of kb.groups) for (const n of [g.name, ...g.aliases]) add(n, 'group', g.id);
    // Other vendors' names, as the facts give them in their own capitals (MURKY PANDA, Silk Typhoon).
    const vendor = vendorNames(kb);
    const spelled = new Map(kb.facts.filter((f) => f.kind === 'name' || f.kind === 'microsoft-name').map((f) => [f.value.trim().toLowerCase(), f.value.trim()]));
    for (const [name, group] of vendor) if (!index.find(name).some((e) => e.kind === 'software')) add(spelled.get(name) ?? name, 'group', group);
  }

  private readonly cache = new Map<string, { kind: 'software' | 'group'; id: string }[]>();

  find(text: string): { kind: 'software' | 'group'; id: string }[] {
    const cached = this.cache.get(text);
    if (cached) return cached;
    const seen = new Set<string>();
    const out: { kind: 'software' | 'group'; id: string }[] = [];
    for (const n of this.names) {
      if (seen.has(n.id) || !n.re.test(text)) continue;
      seen.add(n.id);
      out.push({ kind: n.kind, id: n.id });
    }
    if (this.cache.size < 10_000) this.cache.set(text, out);
    return out;
  }
}
