import ipaddr from 'ipaddr.js';
import { isExternal } from './infrastructure.js';
import type { KnowledgeIndex } from './knowledge.js';
import { normaliseCountry, normaliseSector } from './victimology.js';

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
}

/** Distinct items kept of one kind: a hunt over a large log can match millions of addresses. */
export const MAX_ITEMS_PER_KIND = 10_000;

export class Evidence {
  private readonly items = new Map<string, EvidenceItem>();
  private readonly counts = new Map<EvidenceKind, number>();
  private readonly left = new Map<EvidenceKind, number>();

  add(kind: EvidenceKind, value: string, from: string): void {
    const key = `${kind}\0${value}`;
    const item = this.items.get(key);
    if (item) {
      if (!item.from.includes(from) && item.from.length < 20) item.from.push(from);
      return;
    }
    const count = this.counts.get(kind) ?? 0;
    // Past the limit, new items are counted (roughly: one seen twice counts twice), not kept.
    if (count >= MAX_ITEMS_PER_KIND) this.left.set(kind, (this.left.get(kind) ?? 0) + 1);
    else {
      this.items.set(key, { kind, value, from: [from] });
      this.counts.set(kind, count + 1);
    }
  }

  /** Items of a kind that came past the limit and were not kept. */
  leftOut(kind: EvidenceKind): number {
    return this.left.get(kind) ?? 0;
  }

  of(kind: EvidenceKind): EvidenceItem[] {
    return [...this.items.values()].filter((i) => i.kind === kind);
  }

  all(): EvidenceItem[] {
    return [...this.items.values()];
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
  rule: { id?: string | null; title: string; tags?: string[]; description?: string | null; file?: string };
  matched?: Record<string, unknown>;
  event?: unknown;
}

const FIELD_WITH_ADDRESS = /(^|[-_.])(c-ip|clientip|client_ip|ipaddress|ip_address|sourceaddress|source_ip|sourceip|src_?ip|remoteaddress|remote_ip|x-forwarded-for|originatingip|clientipaddress|indicator)$/i;

/**
 * What a hunt's detections show: techniques, software and CVEs from the rules' tags (attack.t1190,
 * attack.s0020, cve.2021-26855), software and groups named in YARA rules' descriptions and IoC feeds,
 * and the external addresses the matched events came from.
 */
export function evidenceFromDetections(records: Iterable<DetectionRecord>, index: KnowledgeIndex, names = new NameFinder(index), e = new Evidence()): Evidence {
  for (const r of records) {
    const from = `rule "${r.rule.title}"`;
    // An exposure finding names what a server is open to, not what was seen done to it.
    const exposure = r.rule.tags?.includes('detection.exposure') ?? false;
    for (const tag of exposure ? [] : (r.rule.tags ?? [])) {
      const t = tag.toLowerCase();
      let m: RegExpMatchArray | null;
      if ((m = /^attack\.(t\d{4}(?:\.\d{3})?)$/.exec(t))) e.add('technique', m[1]!.toUpperCase(), from);
      else if ((m = /^attack\.(s\d{4})$/.exec(t))) e.add('software', m[1]!.toUpperCase(), from);
      else if ((m = /^attack\.(g\d{4})$/.exec(t))) e.add('actor', m[1]!.toUpperCase(), from);
      else if ((m = /^cve\.(\d{4}-\d{4,})$/.exec(t))) e.add('cve', `CVE-${m[1]}`, from);
    }
    const matched = r.matched ?? {};
    // YARA rules and IoC feeds name malware and actors in prose ("China Chopper and its kin"); Sigma
    // rules tag them instead, and their prose names what they detect, not who used it.
    const tags = r.rule.tags ?? [];
    const prose = tags.includes('detection.yara') || tags.includes('detection.ioc') ? [r.rule.description, matched.description, matched.feed, matched.indicator_name].filter((x): x is string => typeof x === 'string') : [];
    for (const text of prose) {
      for (const hit of names.find(text)) e.add(hit.kind === 'group' ? 'actor' : 'software', hit.id, typeof matched.feed === 'string' ? `feed ${matched.feed}` : from);
    }
    for (const ip of addressesIn(matched, r.event)) e.add('ip', ip, from);
  }
  return e;
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
