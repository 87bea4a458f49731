import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CURATED_DATA, loadCveExploitation, loadGroupTraits } from './curated.js';
import type { GroupFact } from './facts.js';
import { clustersFromGalaxy, type GalaxyCluster, GalaxyError, galaxyFacts } from './galaxy.js';
import { attackVersion, KnowledgeError, type KnowledgeBase } from './knowledge.js';

/**
 * The knowledge Spoor ships (data/attribution/knowledge.json.gz, made by `npm run knowledge` from
 * ATT&CK and the MISP galaxy), so that attribution works offline on a fresh install: what
 * attribution reads of ATT&CK (descriptions left out, the facts mined from them kept) and the galaxy's
 * clusters. `spoor update` installs newer sources beside it; `--attack` gives another ATT&CK.
 */
export const EMBEDDED_KNOWLEDGE = `${CURATED_DATA}knowledge.json.gz`;

/** The MISP galaxy cluster files attribution reads, as `spoor update` installs them (cti/). */
export const GALAXY_FILES = ['threat-actor.json', 'microsoft-activity-group.json'] as const;

export interface GalaxyPart {
  /** Which galaxy files, at which version ("MISP galaxy threat-actor v349, microsoft-activity-group v23"). */
  source: string;
  clusters: GalaxyCluster[];
}

export interface KnowledgeFile {
  format: 1;
  attack: KnowledgeBase;
  galaxy: GalaxyPart;
}

/** ATT&CK as attribution reads it: descriptions, read once for the facts they hold, left out. */
export function compactAttack(kb: KnowledgeBase): KnowledgeBase {
  return {
    ...kb,
    groups: kb.groups.map((g) => ({ ...g, description: '' })),
    campaigns: kb.campaigns.map((c) => ({ ...c, description: '' })),
    software: kb.software.map((s) => ({ ...s, description: '' })),
  };
}

export function writeKnowledgeFile(file: string, attack: KnowledgeBase, galaxy: GalaxyPart): void {
  const doc: KnowledgeFile = { format: 1, attack: compactAttack(attack), galaxy };
  writeFileSync(file, gzipSync(JSON.stringify(doc), { level: 9 }));
}

export function readKnowledgeFile(file = EMBEDDED_KNOWLEDGE): KnowledgeFile {
  let doc: Partial<KnowledgeFile>;
  try {
    doc = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Partial<KnowledgeFile>;
  } catch (e) {
    throw new KnowledgeError(`${file}: ${(e as Error).message}`);
  }
  if (doc.format !== 1 || !doc.attack || !Array.isArray(doc.attack.groups) || !doc.galaxy || !Array.isArray(doc.galaxy.clusters)) throw new KnowledgeError(`${file}: not a Spoor knowledge file`);
  return doc as KnowledgeFile;
}

/** The clusters of MISP galaxy cluster files; throws a GalaxyError naming the file at fault. */
export function loadGalaxyFiles(files: readonly string[]): GalaxyPart {
  const clusters: GalaxyCluster[] = [];
  const said: string[] = [];
  for (const f of files) {
    let doc: { type?: unknown; version?: unknown };
    try {
      doc = JSON.parse(readFileSync(f, 'utf8')) as typeof doc;
    } catch (e) {
      throw new GalaxyError(`${f}: ${(e as Error).message}`);
    }
    try {
      clusters.push(...clustersFromGalaxy(doc));
    } catch (e) {
      throw new GalaxyError(`${f}: ${(e as Error).message}`);
    }
    said.push(`${String(doc.type)} v${String(doc.version ?? '?')}`);
  }
  return { source: `MISP galaxy ${said.join(', ')}`, clusters };
}

/** Spoor's curated rows (data/attribution/) as facts: CVEs exploited, victims, infrastructure. */
export function curatedFacts(): GroupFact[] {
  const out: GroupFact[] = [];
  for (const c of loadCveExploitation()) if (c.attackId) out.push({ group: c.attackId, kind: 'cve', value: c.cve, source: `${c.source} (first seen ${c.firstSeen})` });
  for (const t of loadGroupTraits()) out.push({ group: t.group, kind: t.trait, value: t.trait === 'country' ? t.value.toUpperCase() : t.trait === 'infrastructure' ? t.value.replace(/:(\w+)$/, (_, c: string) => `:${c.toUpperCase()}`) : t.value, source: t.source });
  return out;
}

/** What attribution uses: ATT&CK with its mined facts, plus the galaxy's and the curated ones; and where each part came from. */
export function withFacts(attack: KnowledgeBase, galaxy: GalaxyPart, origin: { attack: string; galaxy: string }): KnowledgeBase {
  return {
    ...attack,
    facts: [...curatedFacts(), ...attack.facts, ...galaxyFacts(galaxy.clusters, attack)],
    provenance: [`ATT&CK ${attackVersion(attack)} (${origin.attack})`, `${galaxy.source} (${origin.galaxy})`],
  };
}

export { GalaxyError };
