/**
 * One name per machine. Logs name a server differently: IIS and Exchange logs by its NetBIOS name
 * (`EXCH01`), Windows events by its DNS name (`EXCH01.corp.example`), either in any case. Among the
 * names a case holds, a short name whose machine has exactly one DNS name there is that DNS name,
 * and names equal but for case are one (spelled as most detections spell it).
 */
export function canonicalHosts(counts: ReadonlyMap<string, number>): Map<string, string> {
  const key = (name: string) => name.toLowerCase();
  // The spelling of each name most detections use.
  const spelling = new Map<string, [string, number]>();
  for (const [name, n] of counts) {
    const k = key(name);
    const best = spelling.get(k);
    if (!best || n > best[1]) spelling.set(k, [name, n]);
  }
  const dnsNames = new Map<string, string[]>();
  for (const k of spelling.keys()) {
    const dot = k.indexOf('.');
    if (dot > 0) dnsNames.set(k.slice(0, dot), [...(dnsNames.get(k.slice(0, dot)) ?? []), k]);
  }
  const canonical = new Map<string, string>();
  for (const name of counts.keys()) {
    const k = key(name);
    const dns = k.includes('.') ? undefined : dnsNames.get(k);
    canonical.set(name, spelling.get(dns?.length === 1 ? dns[0]! : k)![0]);
  }
  return canonical;
}

/** Counts by host with the names of one machine merged (see canonicalHosts). */
export function mergeHostCounts(counts: ReadonlyMap<string, number>): Map<string, number> {
  const canonical = canonicalHosts(counts);
  const merged = new Map<string, number>();
  for (const [name, n] of counts) {
    const c = canonical.get(name)!;
    merged.set(c, (merged.get(c) ?? 0) + n);
  }
  return merged;
}
