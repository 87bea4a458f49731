import type { GroupFact } from './facts.js';
import { countriesNamedIn, victimsIn } from './victimology.js';
import { cvesNamedIn } from './vulnerabilities.js';

/**
 * Facts mined from ATT&CK's own texts: the CVEs a group's (or its campaigns') `uses` links and
 * descriptions name, by id or by name ("ProxyShell"); the infrastructure its resource-development
 * links describe (T1583.003 "operated from leased virtual private servers (VPS) in the United
 * States" is vps:US); the victims its description states. Each fact cites the ATT&CK object and the
 * reports it cites.
 */
export interface AttackText {
  /** The group or campaign the text is about. */
  owner: string;
  /** The technique or software of a `uses` link; undefined for a description. */
  target?: string;
  text: string;
  citations: readonly string[];
}

/** Techniques whose use says what infrastructure a group runs from. */
const INFRASTRUCTURE_TECHNIQUES: Record<string, string> = {
  'T1583.003': 'vps',
  'T1583.004': 'hosting',
  'T1583.005': 'compromised',
  'T1584.003': 'compromised',
  'T1584.004': 'compromised',
  'T1584.005': 'compromised',
  'T1584.008': 'compromised',
};

const plain = (text: string) => text.replace(/\(Citation: [^)]*\)/g, '').replace(/\[([^\]]+)\]\([^)]*\)/g, '$1');

/** The countries a sentence places something in ("in the United States"), not those it merely names ("outside of Russia"). */
export function countriesPlacedIn(sentence: string): string[] {
  const out = new Set<string>();
  for (const m of sentence.matchAll(/\b(?:in|located in|based in|hosted in|from) (?:the )?([A-Z][\w.]*(?:,? (?:and )?[A-Z][\w.]*)*)/g)) for (const c of countriesNamedIn(m[1]!)) out.add(c);
  return [...out];
}

/** The infrastructure kinds a text says were used (with the country it is placed in, when said). */
export function infrastructureIn(text: string, technique?: string): string[] {
  const out = new Set<string>();
  for (const sentence of plain(text).split(/(?<=\.)\s+/)) {
    const kinds = new Set<string>();
    const byTechnique = technique ? INFRASTRUCTURE_TECHNIQUES[technique] : undefined;
    if (byTechnique) kinds.add(byTechnique);
    if (/virtual private servers?|\bVPS(es)?\b/.test(sentence)) kinds.add('vps');
    if (technique?.startsWith('T1090') && /\bTor\b/.test(sentence)) kinds.add('tor');
    if (/\b(commercial|paid|public) VPN|VPN (service|provider)s?\b/i.test(sentence)) kinds.add('vpn');
    const countries = countriesPlacedIn(sentence);
    for (const k of kinds) {
      if (countries.length && (k === 'vps' || k === 'hosting')) for (const c of countries) out.add(`${k}:${c}`);
      else out.add(k);
    }
  }
  return [...out];
}

const cite = (owner: string, target: string | undefined, citations: readonly string[]) =>
  `ATT&CK ${owner}${target ? ` uses ${target}` : ' description'}${citations.length ? ` (${citations.slice(0, 3).join('; ')}${citations.length > 3 ? '; …' : ''})` : ''}`;

/** Facts from the texts of groups and their campaigns; `groupsOf` gives the groups a campaign is attributed to. */
export function attackFacts(texts: Iterable<AttackText>, groupsOf: (campaign: string) => readonly string[]): GroupFact[] {
  const out: GroupFact[] = [];
  const seen = new Set<string>();
  const add = (groups: readonly string[], kind: GroupFact['kind'], value: string, source: string) => {
    for (const group of groups) {
      const key = `${group}\0${kind}\0${value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ group, kind, value, source });
    }
  };
  for (const t of texts) {
    const groups = t.owner.startsWith('G') ? [t.owner] : groupsOf(t.owner);
    if (!groups.length || !t.text) continue;
    const source = cite(t.owner, t.target, t.citations);
    for (const c of cvesNamedIn(plain(t.text))) add(groups, 'cve', c.cve, c.via ? `${source}, naming ${c.via}` : source);
    if (!t.target || INFRASTRUCTURE_TECHNIQUES[t.target] || t.target.startsWith('T1090') || t.target.startsWith('T1583')) for (const i of infrastructureIn(t.text, t.target)) add(groups, 'infrastructure', i, source);
    if (!t.target) {
      const v = victimsIn(t.text);
      for (const s of v.sectors) add(groups, 'sector', s, source);
      for (const c of v.countries) add(groups, 'country', c, source);
    }
  }
  return out;
}
