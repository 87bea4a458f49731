import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

/** Spoor's curated attribution facts (data/attribution/), each row with its source. */
export const CURATED_DATA = new URL('../../../data/attribution/', import.meta.url).pathname;

/** A group reported exploiting a CVE: its name as the report gives it, its ATT&CK id when ATT&CK knows it. */
export interface CveExploitation {
  cve: string;
  actor: string;
  attackId?: string;
  /** Year and month the exploitation was first reported seen (YYYY-MM). */
  firstSeen: string;
  source: string;
}

export function loadCveExploitation(file = `${CURATED_DATA}cve-exploitation.csv`): CveExploitation[] {
  return readRows(file).map((r, i) => {
    if (!/^CVE-\d{4}-\d{4,}$/.test(r.cve ?? '') || !r.actor || !r.source || !/^\d{4}-\d\d$/.test(r.first_seen ?? '')) throw new Error(`${file}: row ${i + 2}: needs cve, actor, first_seen (YYYY-MM) and source`);
    return { cve: r.cve!, actor: r.actor, ...(r.attack_id ? { attackId: r.attack_id } : {}), firstSeen: r.first_seen!, source: r.source };
  });
}

function readRows(file: string): Record<string, string>[] {
  return parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
}

/** A reported trait of a group: a victim sector or country, or infrastructure ("vps:US"). */
export interface GroupTrait {
  group: string;
  trait: 'sector' | 'country' | 'infrastructure';
  value: string;
  source: string;
}

export function loadGroupTraits(file = `${CURATED_DATA}group-traits.csv`): GroupTrait[] {
  return readRows(file).map((r, i) => {
    if (!/^G\d{4}$/.test(r.attack_id ?? '') || !['sector', 'country', 'infrastructure'].includes(r.trait ?? '') || !r.value || !r.source) throw new Error(`${file}: row ${i + 2}: needs attack_id, trait (sector|country|infrastructure), value and source`);
    return { group: r.attack_id!, trait: r.trait as GroupTrait['trait'], value: r.value.toLowerCase(), source: r.source };
  });
}

/** Software that says little about who used it (public, commercial or built in), with the weight its evidence keeps. */
export function loadCommoditySoftware(file = `${CURATED_DATA}commodity-software.csv`): Map<string, { weight: number; source: string }> {
  return new Map(
    readRows(file).map((r, i) => {
      const weight = Number(r.weight);
      if (!/^S\d{4}$/.test(r.attack_id ?? '') || !(weight > 0 && weight <= 1) || !r.source) throw new Error(`${file}: row ${i + 2}: needs attack_id, weight in (0, 1] and source`);
      return [r.attack_id!, { weight, source: r.source }];
    }),
  );
}
