import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import ipaddr from 'ipaddr.js';
import { parse } from 'csv-parse/sync';
import { CURATED_DATA } from './curated.js';

/**
 * Offline enrichment of the external IP addresses in the evidence: the autonomous system and its
 * operator (RouteViews and DB-IP via `@ip-location-db/asn`, CC BY 4.0), the country the range is
 * registered to (NRO statistics via `@ip-location-db/asn-country`, CC BY 4.0), and what kind of
 * network it is (Spoor's `data/attribution/hosting-asns.csv`, or the operator's name), so that
 * "operated from leased VPSs in the US" can be weighed as evidence.
 */
export type NetworkKind = 'vps' | 'hosting' | 'cloud' | 'vpn' | 'cdn' | 'other';

export interface IpInfo {
  ip: string;
  asn?: number;
  operator?: string;
  country?: string;
  kind: NetworkKind;
  /** Why the kind was given: the curated row's source, or the operator's name. */
  kindSource?: string;
}

interface Ranges {
  starts: Float64Array;
  ends: Float64Array;
  values: string[];
}

const require = createRequire(import.meta.url);

/** A sorted table of IPv4 ranges from an `@ip-location-db` numeric CSV (start,end,value…). */
function loadRanges(pkgFile: string): Ranges | undefined {
  let text: string;
  try {
    text = readFileSync(require.resolve(pkgFile), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const starts = new Float64Array(lines.length);
  const ends = new Float64Array(lines.length);
  const values: string[] = [];
  let n = 0;
  for (const line of lines) {
    const a = line.indexOf(',');
    const b = line.indexOf(',', a + 1);
    if (a < 0 || b < 0) continue;
    starts[n] = Number(line.slice(0, a));
    ends[n] = Number(line.slice(a + 1, b));
    values.push(line.slice(b + 1));
    n++;
  }
  return { starts: starts.subarray(0, n), ends: ends.subarray(0, n), values };
}

function lookup(r: Ranges, n: number): string | undefined {
  let lo = 0;
  let hi = r.starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (r.starts[mid]! > n) hi = mid - 1;
    else if (r.ends[mid]! < n) lo = mid + 1;
    else return r.values[mid];
  }
  return undefined;
}

interface HostingRow {
  kind: NetworkKind;
  operator: string;
  source: string;
}

function loadHosting(file = `${CURATED_DATA}hosting-asns.csv`): Map<number, HostingRow> {
  const rows = parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  return new Map(rows.map((r) => [Number(r.asn), { kind: r.kind as NetworkKind, operator: r.operator!, source: r.source! }]));
}

const HOSTING_NAME = /\b(hosting|hoster|vps|virtual server|dedicated|datacent(er|re)|data cent(er|re)|colo(cation)?|cloud|servers?)\b/i;

/** Whether an address is one an intruder could come from (not private, loopback, link-local …). */
export function isExternal(ip: string): boolean {
  if (!ipaddr.isValid(ip)) return false;
  const range = ipaddr.parse(ip).range();
  return range === 'unicast';
}

export class IpEnricher {
  private asn?: Ranges;
  private country?: Ranges;
  private hosting?: Map<number, HostingRow>;

  /** Whether the address databases are installed (they are optional dependencies). */
  get available(): boolean {
    this.load();
    return !!this.asn;
  }

  private load() {
    if (this.hosting) return;
    this.hosting = loadHosting();
    this.asn = loadRanges('@ip-location-db/asn/asn-ipv4-num.csv');
    this.country = loadRanges('@ip-location-db/asn-country/asn-country-ipv4-num.csv');
  }

  enrich(ip: string): IpInfo {
    this.load();
    const info: IpInfo = { ip, kind: 'other' };
    if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) return info;
    const n = ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);
    const asnRow = this.asn && lookup(this.asn, n);
    if (asnRow) {
      const comma = asnRow.indexOf(',');
      info.asn = Number(asnRow.slice(0, comma));
      info.operator = asnRow.slice(comma + 1).replace(/^"|"$/g, '');
    }
    const cc = this.country && lookup(this.country, n);
    if (cc) info.country = cc.trim();
    const curated = info.asn !== undefined ? this.hosting!.get(info.asn) : undefined;
    if (curated) {
      info.kind = curated.kind;
      info.kindSource = curated.source;
    } else if (info.operator && HOSTING_NAME.test(info.operator)) {
      info.kind = 'hosting';
      info.kindSource = `operator's name "${info.operator}"`;
    }
    return info;
  }
}
