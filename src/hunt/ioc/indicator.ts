import ipaddr from 'ipaddr.js';

export const INDICATOR_TYPES = ['ip', 'cidr', 'domain', 'url', 'md5', 'sha1', 'sha256', 'filename', 'filepath'] as const;
export type IndicatorType = (typeof INDICATOR_TYPES)[number];

/** One indicator of compromise, with the feed it came from. */
export interface Indicator {
  type: IndicatorType;
  /** Normalised: lower case; IPs in canonical form; paths with '/' and no drive. */
  value: string;
  /** The feed's file name. */
  feed: string;
  /** The feed's id or name for it, when it has one (a STIX indicator's id, a MISP attribute's uuid). */
  id?: string;
  name?: string;
}

/** A path as indicators and files are compared: lower case, '/' separators, no drive or UNC share prefix. */
export function normalisePath(path: string): string {
  return path.trim().toLowerCase().replace(/\\/g, '/').replace(/^\/\/[^/]+\/[a-z]\$\//, '').replace(/^[a-z]:\//, '').replace(/^\/+/, '');
}

const HASH_TYPES: Record<number, IndicatorType> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };

/**
 * An indicator from a value of a given kind (a feed's word for it: `ip-dst`, `domainname`, `sha256`,
 * `filepath` …), or of whatever kind the value's shape says when the feed gives none. Undefined when
 * the value is not one of the kinds Spoor matches.
 */
export function makeIndicator(rawValue: string, kind: string | undefined, feed: string, extra: { id?: string; name?: string } = {}): Indicator | undefined {
  const value = rawValue.trim().replace(/^\[|\]$/g, '');
  if (!value) return undefined;
  const k = (kind ?? '').toLowerCase();
  const make = (type: IndicatorType, v: string): Indicator => ({ type, value: v, feed, ...extra });
  if (/^(ip|ipv4|ipv6|ip-src|ip-dst|ipv4-addr|ipv6-addr|ipaddress|ip address)$/.test(k) || (!k && looksLikeIp(value))) {
    if (value.includes('/')) return cidr(value, make);
    return ipaddr.isValid(value) ? make('ip', ipaddr.parse(value).toString()) : undefined;
  }
  if (/^(cidr|ip-range|subnet)$/.test(k) || (!k && /^[\d.:a-f]+\/\d{1,3}$/i.test(value))) return cidr(value, make);
  if (/^(md5|sha1|sha-1|sha256|sha-256|hash|filehash|file-hash)$/.test(k) || (!k && /^[0-9a-f]+$/i.test(value) && HASH_TYPES[value.length])) {
    const type = HASH_TYPES[value.length];
    return type && /^[0-9a-f]+$/i.test(value) ? make(type, value.toLowerCase()) : undefined;
  }
  if (/^(url|uri|link)$/.test(k) || (!k && /^[a-z][a-z0-9+.-]*:\/\//i.test(value))) return make('url', value.toLowerCase());
  if (/^(filepath|file-path|path|file path)$/.test(k) || (!k && /^([a-z]:)?[\\/]/i.test(value))) return make('filepath', normalisePath(value));
  if (/^(filename|file-name|file name|file)$/.test(k)) return make('filename', value.toLowerCase());
  if (/^(domain|domainname|domain-name|hostname|fqdn|host)$/.test(k) || (!k && /^([a-z0-9_-]+\.)+[a-z][a-z0-9-]*\.?$/i.test(value))) {
    return make('domain', value.toLowerCase().replace(/\.$/, ''));
  }
  return undefined;
}

function looksLikeIp(v: string): boolean {
  const host = v.split('/')[0]!;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || (host.includes(':') && ipaddr.isValid(host));
}

function cidr(value: string, make: (type: IndicatorType, v: string) => Indicator): Indicator | undefined {
  try {
    const [addr, bits] = ipaddr.parseCIDR(value);
    return make('cidr', `${addr.toString()}/${bits}`);
  } catch {
    return undefined;
  }
}
