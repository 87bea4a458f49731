import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { cvesIn } from '../common/cve.js';
import { CURATED_DATA } from './curated.js';

/**
 * Vulnerabilities as people name them ("ProxyLogon", "Zerologon"), each with its CVEs and where the
 * name was given (data/attribution/vulnerability-names.csv): rule titles and ATT&CK's texts often say
 * the name and not the ids.
 */
export interface VulnerabilityName {
  name: string;
  cves: string[];
  source: string;
}

let names: { name: VulnerabilityName; re: RegExp }[] | undefined;

export function loadVulnerabilityNames(file = `${CURATED_DATA}vulnerability-names.csv`): VulnerabilityName[] {
  const rows = parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  return rows.map((r, i) => {
    const cves = (r.cves ?? '').split(/\s+/).filter(Boolean);
    if (!r.name || !cves.length || cves.some((c) => !/^CVE-\d{4}-\d{4,}$/.test(c)) || !r.source) throw new Error(`${file}: row ${i + 2}: needs name, cves (space-separated CVE ids) and source`);
    return { name: r.name, cves, source: r.source };
  });
}

/** The named vulnerabilities a text mentions, as whole words, case aside. */
export function vulnerabilitiesNamedIn(text: string): VulnerabilityName[] {
  names ??= loadVulnerabilityNames().map((name) => ({ name, re: new RegExp(`(^|[^\\w])${name.name.replace(/ /g, '[ -]?')}($|[^\\w])`, 'i') }));
  return names.filter((n) => n.re.test(text)).map((n) => n.name);
}

/** CVE ids a text gives, by id or by the vulnerability's name. */
export function cvesNamedIn(text: string): { cve: string; via?: string }[] {
  const out = new Map<string, { cve: string; via?: string }>();
  for (const cve of cvesIn(text)) out.set(cve, { cve });
  for (const v of vulnerabilitiesNamedIn(text)) for (const cve of v.cves) if (!out.has(cve)) out.set(cve, { cve, via: v.name });
  return [...out.values()];
}
