/**
 * CVE ids named in text: `CVE-2021-26855`, case aside, and the short lists writers make of one year's
 * ids (`CVE-2021-26855-26858-27065`, `CVE-2021-26855/26857`, `CVE-2021-26855, 26857 and 27065`), which
 * rule references and titles use for exploit chains.
 */
const CVE_RUN = /\bCVE-(\d{4})-(\d{4,7})((?:(?:[-/]|,? (?:and )?|, )\d{4,7}\b)*)/gi;
const MORE = /\d{4,7}/g;

export function cvesIn(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(CVE_RUN)) {
    const year = m[1]!;
    out.add(`CVE-${year}-${m[2]}`);
    for (const n of (m[3] ?? '').matchAll(MORE)) out.add(`CVE-${year}-${n[0]}`);
  }
  return [...out];
}

/** CVE ids from `cve.2021-26855` tags (Sigma's convention). */
export function cvesOfTags(tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of tags) {
    const m = /^cve\.(\d{4}-\d{4,7})$/i.exec(t);
    if (m) out.push(`CVE-${m[1]}`);
  }
  return out;
}
