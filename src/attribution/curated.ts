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
  const rows = parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  return rows.map((r, i) => {
    if (!/^CVE-\d{4}-\d{4,}$/.test(r.cve ?? '') || !r.actor || !r.source || !/^\d{4}-\d\d$/.test(r.first_seen ?? '')) throw new Error(`${file}: row ${i + 2}: needs cve, actor, first_seen (YYYY-MM) and source`);
    return { cve: r.cve!, actor: r.actor, ...(r.attack_id ? { attackId: r.attack_id } : {}), firstSeen: r.first_seen!, source: r.source };
  });
}
