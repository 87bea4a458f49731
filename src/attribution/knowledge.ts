import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spoorHome } from '../common/home.js';
import { type AttackText, attackFacts } from './attack-facts.js';
import type { GroupFact } from './facts.js';

/**
 * MITRE ATT&CK Enterprise as attribution needs it: groups, campaigns and software with their
 * aliases, techniques, and every `uses` and `attributed-to` link with the reports it cites (so that
 * an evaluation can leave a report's knowledge out). Objects ATT&CK has revoked or deprecated are
 * left out, with the links that touch them.
 */
export interface KbGroup { id: string; name: string; aliases: string[]; description: string }
export interface KbCampaign { id: string; name: string; aliases: string[]; description: string; firstSeen?: string; lastSeen?: string }
export interface KbSoftware { id: string; name: string; aliases: string[]; kind: 'malware' | 'tool'; description: string }
export interface KbTechnique { id: string; name: string; tactics: string[] }
/** A link between ATT&CK ids (G0125 uses T1190), with the source names of the reports it cites. */
export interface KbLink { source: string; target: string; citations: string[] }

export interface KnowledgeBase {
  /** The ATT&CK release (18.1), when the bundle says it; else empty, and `modified` dates the bundle. */
  version: string;
  /** The newest modification date of the bundle's objects (YYYY-MM-DD). */
  modified?: string;
  groups: KbGroup[];
  campaigns: KbCampaign[];
  software: KbSoftware[];
  techniques: KbTechnique[];
  /** Groups, campaigns and software using techniques and software. */
  uses: KbLink[];
  /** Campaigns attributed to groups. */
  attributedTo: KbLink[];
  /**
   * Groups that a software's ATT&CK description names as its users (G0049 → S1166), with the reports
   * the naming sentence cites (or, uncited, all the description cites): knowledge that is not in
   * `uses` for most newer software.
   */
  describedUses: KbLink[];
  /**
   * What sources say of groups beyond techniques and software (CVEs, victims, infrastructure, names,
   * origin): mined from ATT&CK's texts here; the MISP galaxy's and Spoor's curated ones are added by
   * `withFacts` (knowledge-store.ts).
   */
  facts: GroupFact[];
  /** Where each part came from ("ATT&CK v18.1 (shipped with Spoor)"), once the facts are combined. */
  provenance?: string[];
}

/** The ATT&CK release a knowledge base holds, in words ("v18.1", or the date of an unversioned bundle). */
export function attackVersion(kb: Pick<KnowledgeBase, 'version' | 'modified'>): string {
  return kb.version ? `v${kb.version.replace(/^v/, '')}` : kb.modified ? `bundle of ${kb.modified}` : 'bundle of unknown date';
}

export class KnowledgeError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const strs = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function attackId(o: Obj): string | undefined {
  const refs = Array.isArray(o.external_references) ? o.external_references : [];
  const ref = refs.find((r): r is Obj => isObj(r) && r.source_name === 'mitre-attack');
  return ref ? str(ref.external_id) || undefined : undefined;
}

function citations(o: Obj): string[] {
  const refs = Array.isArray(o.external_references) ? o.external_references : [];
  return [...new Set(refs.filter(isObj).map((r) => str(r.source_name)).filter((n) => n && n !== 'mitre-attack'))].sort();
}

const CITATION = /\(Citation: ([^)]+)\)/g;
const GROUP_LINK = /\]\(https:\/\/attack\.mitre\.org\/groups\/(G\d{4})\)/g;

/**
 * A sentence ends after its period and the citation marks that follow it, before a capital or a
 * link. Found forwards from each period: a look-behind over the citations, tried at every space,
 * took time quadratic in a long run of citations.
 */
const SENTENCE_END = /\.(?:\(Citation: [^()]*\))*(?=\s+[A-Z[])/g;

function sentencesOf(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (const m of text.matchAll(SENTENCE_END)) {
    const end = m.index + m[0].length;
    out.push(text.slice(start, end).trim());
    start = end;
  }
  out.push(text.slice(start).trim());
  return out;
}

/** The groups a description's sentences link to, each with the citations of its sentence. */
function groupsNamedIn(description: string): { group: string; citations: string[] }[] {
  const all = [...description.matchAll(CITATION)].map((m) => m[1]!);
  const out: { group: string; citations: string[] }[] = [];
  for (const sentence of sentencesOf(description)) {
    const groups = new Set([...sentence.matchAll(GROUP_LINK)].map((m) => m[1]!));
    if (!groups.size) continue;
    const cited = [...sentence.matchAll(CITATION)].map((m) => m[1]!);
    const citations = [...new Set(cited.length ? cited : all)].sort();
    for (const group of groups) if (!out.some((o) => o.group === group)) out.push({ group, citations });
  }
  return out;
}

/** The knowledge in an ATT&CK Enterprise STIX 2.1 bundle. */
export function knowledgeFromBundle(doc: unknown): KnowledgeBase {
  if (!isObj(doc) || doc.type !== 'bundle' || !Array.isArray(doc.objects)) throw new KnowledgeError('not a STIX bundle');
  const kb: KnowledgeBase = { version: '', groups: [], campaigns: [], software: [], techniques: [], uses: [], attributedTo: [], describedUses: [], facts: [] };
  const idOf = new Map<string, string>();
  const texts: AttackText[] = [];
  let modified = '';
  for (const o of doc.objects) {
    if (!isObj(o) || typeof o.id !== 'string') continue;
    if (o.type === 'x-mitre-collection') kb.version = str(o.x_mitre_version) || kb.version;
    if (typeof o.modified === 'string' && o.modified > modified) modified = o.modified;
    if (o.revoked === true || o.x_mitre_deprecated === true) continue;
    const id = attackId(o);
    if (!id) continue;
    const name = str(o.name);
    const description = str(o.description);
    switch (o.type) {
      case 'intrusion-set':
        kb.groups.push({ id, name, aliases: strs(o.aliases), description });
        texts.push({ owner: id, text: description, citations: citations(o) });
        break;
      case 'campaign':
        texts.push({ owner: id, text: description, citations: citations(o) });
        kb.campaigns.push({ id, name, aliases: strs(o.aliases), description, ...(o.first_seen ? { firstSeen: str(o.first_seen) } : {}), ...(o.last_seen ? { lastSeen: str(o.last_seen) } : {}) });
        break;
      case 'malware':
      case 'tool':
        kb.software.push({ id, name, aliases: strs(o.x_mitre_aliases), kind: o.type, description });
        kb.describedUses.push(...groupsNamedIn(description).map((g) => ({ source: g.group, target: id, citations: g.citations })));
        break;
      case 'attack-pattern': {
        const phases = Array.isArray(o.kill_chain_phases) ? o.kill_chain_phases.filter(isObj).map((p) => str(p.phase_name)) : [];
        kb.techniques.push({ id, name, tactics: phases });
        break;
      }
      default:
        continue;
    }
    idOf.set(o.id, id);
  }
  for (const o of doc.objects) {
    if (!isObj(o) || o.type !== 'relationship' || o.revoked === true || o.x_mitre_deprecated === true) continue;
    const source = idOf.get(str(o.source_ref));
    const target = idOf.get(str(o.target_ref));
    if (!source || !target) continue;
    const link = { source, target, citations: citations(o) };
    if (o.relationship_type === 'uses' && /^[GCS]\d{4}$/.test(source) && /^(T\d{4}(\.\d{3})?|S\d{4})$/.test(target)) {
      kb.uses.push(link);
      if (!source.startsWith('S')) texts.push({ owner: source, target, text: str(o.description), citations: link.citations });
    }
    else if (o.relationship_type === 'attributed-to' && /^C\d{4}$/.test(source) && /^G\d{4}$/.test(target)) kb.attributedTo.push(link);
  }
  const groupIds = new Set(kb.groups.map((g) => g.id));
  kb.describedUses = kb.describedUses.filter((l) => groupIds.has(l.source));
  kb.modified = modified.slice(0, 10) || undefined;
  const campaignGroups = new Map<string, string[]>();
  for (const a of kb.attributedTo) campaignGroups.set(a.source, [...(campaignGroups.get(a.source) ?? []), a.target]);
  kb.facts = attackFacts(texts, (c) => campaignGroups.get(c) ?? []).filter((f) => groupIds.has(f.group));
  if (kb.techniques.length < 100 || kb.groups.length < 10) throw new KnowledgeError(`only ${kb.techniques.length} techniques and ${kb.groups.length} groups: not ATT&CK Enterprise`);
  for (const list of [kb.groups, kb.campaigns, kb.software, kb.techniques]) list.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  return kb;
}

/** Bumped when the index's shape changes, so that caches of older shapes are not read. */
const INDEX_VERSION = 3;

/**
 * The knowledge in a bundle file, from a compact index cached in the data directory (keyed by the
 * bundle's digest), built on first use: the 33 MB bundle takes a second to parse, the index a few
 * milliseconds. `SPOOR_NO_CACHE=1` reads the bundle every time.
 */
export function loadKnowledge(bundleFile: string): KnowledgeBase {
  let raw: Buffer;
  try {
    raw = readFileSync(bundleFile);
  } catch (e) {
    throw new KnowledgeError(`${bundleFile}: ${(e as Error).message}`);
  }
  const digest = createHash('sha256').update(raw).digest('hex').slice(0, 32);
  const cache = join(spoorHome(), 'cache', `attack-${INDEX_VERSION}-${digest}.json`);
  if (!process.env.SPOOR_NO_CACHE) {
    try {
      return JSON.parse(readFileSync(cache, 'utf8')) as KnowledgeBase;
    } catch {
      // no index yet, or an unreadable one: made afresh below
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new KnowledgeError(`${bundleFile}: not JSON (${(e as Error).message})`);
  }
  let kb: KnowledgeBase;
  try {
    kb = knowledgeFromBundle(doc);
  } catch (e) {
    throw new KnowledgeError(`${bundleFile}: ${(e as Error).message}`);
  }
  if (!process.env.SPOOR_NO_CACHE) {
    try {
      mkdirSync(join(spoorHome(), 'cache'), { recursive: true });
      const tmp = `${cache}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(kb));
      renameSync(tmp, cache);
    } catch {
      // a read-only data directory only costs the next run the parse
    }
  }
  return kb;
}

/** Names other sources give groups (lower-cased) and the one group each names; names given to several groups are left out. */
export function vendorNames(kb: Pick<KnowledgeBase, 'facts'>): Map<string, string> {
  const groupsOf = new Map<string, Set<string>>();
  for (const f of kb.facts) {
    if (f.kind !== 'name' && f.kind !== 'microsoft-name') continue;
    const k = f.value.trim().toLowerCase();
    if (!k) continue;
    if (!groupsOf.has(k)) groupsOf.set(k, new Set());
    groupsOf.get(k)!.add(f.group);
  }
  const out = new Map<string, string>();
  for (const [name, groups] of groupsOf) if (groups.size === 1) out.set(name, [...groups][0]!);
  return out;
}

/** An entity found by ATT&CK id, name or alias (case aside). */
export interface KbEntity {
  kind: 'group' | 'campaign' | 'software' | 'technique';
  id: string;
  name: string;
}

/** Finds groups, campaigns, software and techniques by id, name or alias. */
export class KnowledgeIndex {
  private readonly byKey = new Map<string, KbEntity[]>();

  constructor(readonly kb: KnowledgeBase) {
    const add = (key: string, e: KbEntity) => {
      const k = key.trim().toLowerCase();
      if (!k) return;
      const list = this.byKey.get(k);
      if (!list) this.byKey.set(k, [e]);
      else if (!list.some((x) => x.id === e.id)) list.push(e);
    };
    for (const g of kb.groups) for (const k of [g.id, g.name, ...g.aliases]) add(k, { kind: 'group', id: g.id, name: g.name });
    for (const c of kb.campaigns) for (const k of [c.id, c.name, ...c.aliases]) add(k, { kind: 'campaign', id: c.id, name: c.name });
    for (const s of kb.software) for (const k of [s.id, s.name, ...s.aliases]) add(k, { kind: 'software', id: s.id, name: s.name });
    for (const t of kb.techniques) for (const k of [t.id, t.name]) add(k, { kind: 'technique', id: t.id, name: t.name });
    // Other vendors' names (MISP galaxy: MURKY PANDA, Microsoft's Silk Typhoon), where one group has them.
    for (const [name, group] of vendorNames(kb)) {
      const g = kb.groups.find((x) => x.id === group);
      if (g && !this.byKey.get(name)?.some((e) => e.kind === 'group')) add(name, { kind: 'group', id: g.id, name: g.name });
    }
  }

  /** Everything an id, name or alias names (an alias can be shared: "Cobalt Strike" is software, and part of group names). */
  find(key: string): KbEntity[] {
    return this.byKey.get(key.trim().toLowerCase()) ?? [];
  }

  /** What a group, campaign or software uses: technique and software ids. */
  usesOf(id: string): KbLink[] {
    return this.kb.uses.filter((u) => u.source === id);
  }
}
