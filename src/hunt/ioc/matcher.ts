import ipaddr from 'ipaddr.js';
import { type Indicator, normalisePath } from './indicator.js';

/** An indicator found: the indicator, and the text it was found as. */
export interface IocHit {
  indicator: Indicator;
  found: string;
}

/** Words of a value an indicator could be: split at spaces, quotes, brackets and separators, but not at '/', '\\', '.' or ':'. */
const TOKEN = /[^\s,;"'<>()[\]{}|=&?*!]+/g;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Matches indicators against text: every word of a value is looked up as an address (and in each
 * CIDR range), a hash, a domain (and its parent domains), a URL, a file name or the end of a path.
 * Lookups are hash-map hits; only CIDR ranges are walked, and only for words that are addresses.
 */
export class IocMatcher {
  private readonly exact = new Map<string, Indicator[]>();
  private readonly ranges: { range: [ipaddr.IPv4 | ipaddr.IPv6, number]; indicator: Indicator }[] = [];
  /** Paths by their last part, to check the rest only for files of that name. */
  private readonly paths = new Map<string, Indicator[]>();
  readonly size: number;
  /** Whether any indicator is a file hash (else files need not be hashed). */
  readonly hasHashes: boolean;

  constructor(indicators: readonly Indicator[]) {
    const distinct = new Map<string, Indicator>();
    // Feeds repeat themselves; one indicator of a feed is one hit.
    for (const ind of indicators) {
      const key = `${ind.feed}\0${ind.type}\0${ind.value}`;
      if (!distinct.has(key)) distinct.set(key, ind);
    }
    for (const ind of distinct.values()) {
      if (ind.type === 'cidr') {
        this.ranges.push({ range: ipaddr.parseCIDR(ind.value), indicator: ind });
      } else if (ind.type === 'filepath') {
        const name = ind.value.slice(ind.value.lastIndexOf('/') + 1);
        this.add(this.paths, name, ind);
      } else {
        this.add(this.exact, `${ind.type === 'filename' ? 'f' : ind.type === 'url' ? 'u' : 'v'}:${ind.value}`, ind);
      }
    }
    this.size = distinct.size;
    this.hasHashes = [...distinct.values()].some((i) => i.type === 'md5' || i.type === 'sha1' || i.type === 'sha256');
  }

  private add(map: Map<string, Indicator[]>, key: string, ind: Indicator): void {
    const list = map.get(key);
    if (list) list.push(ind);
    else map.set(key, [ind]);
  }

  /**
   * Texts one of which occurs in any text holding an indicator (case aside): the indicators
   * themselves, a path's file name, a range's fixed leading octets. Undefined when no such list can
   * be sound (IPv6 addresses have several written forms; ranges wider than /8).
   */
  lineLiterals(): string[] | undefined {
    const each = this.literalOfEach();
    return each && [...each.values()];
  }

  /** Each indicator's text, that any text holding it holds (see `lineLiterals`). */
  literalOfEach(): Map<Indicator, string> | undefined {
    const out = new Map<Indicator, string>();
    for (const list of [...this.exact.values(), ...this.paths.values()]) {
      for (const ind of list) {
        if (ind.type === 'ip' && ind.value.includes(':')) return undefined;
        out.set(ind, ind.type === 'filepath' ? ind.value.slice(ind.value.lastIndexOf('/') + 1) : ind.value);
      }
    }
    for (const { range, indicator } of this.ranges) {
      const [addr, bits] = range;
      if (addr.kind() !== 'ipv4' || bits < 8) return undefined;
      out.set(indicator, `${addr.toString().split('.').slice(0, bits >> 3).join('.')}.`);
    }
    return out;
  }

  /** The indicators a text holds, each once. */
  matchText(text: string, into: IocHit[] = [], seen = new Set<Indicator>()): IocHit[] {
    TOKEN.lastIndex = 0;
    for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) this.matchToken(m[0], into, seen);
    return into;
  }

  /** The indicators a file is: its path (relative to the evidence folder) and its hashes. */
  matchFile(path: string, hashes: { md5?: string; sha1?: string; sha256?: string }, into: IocHit[] = []): IocHit[] {
    const seen = new Set<Indicator>();
    this.matchPath(normalisePath(path), into, seen);
    for (const h of [hashes.md5, hashes.sha1, hashes.sha256]) if (h) this.hit(this.exact.get(`v:${h}`), h, into, seen);
    return into;
  }

  private hit(list: Indicator[] | undefined, found: string, into: IocHit[], seen: Set<Indicator>): void {
    if (!list) return;
    for (const indicator of list) {
      if (seen.has(indicator)) continue;
      seen.add(indicator);
      into.push({ indicator, found });
    }
  }

  private matchToken(raw: string, into: IocHit[], seen: Set<Indicator>): void {
    const token = raw.replace(/[.:]+$/, '');
    if (token.length < 3) return;
    const lower = token.toLowerCase();
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//.exec(lower);
    if (scheme) {
      this.hit(this.exact.get(`u:${lower}`), token, into, seen);
      const host = lower.slice(scheme[0].length).split(/[/:@]/, 1)[0]!;
      this.matchHost(host, into, seen);
      return;
    }
    if (lower.includes('/') || lower.includes('\\')) {
      // host/path without a scheme (proxy logs, command lines): the host too.
      const host = /^([a-z0-9-]+\.)+[a-z][a-z0-9-]*(:\d+)?(?=\/)/.exec(lower);
      if (host) this.matchHost(host[0], into, seen);
      this.matchPath(normalisePath(lower), into, seen);
      return;
    }
    this.matchHost(lower, into, seen);
    this.hit(this.exact.get(`f:${lower}`), token, into, seen);
  }

  /** A word as an address (with a port, perhaps), a hash, or a domain and its parents. */
  private matchHost(word: string, into: IocHit[], seen: Set<Indicator>): void {
    let host = word;
    const colon = host.lastIndexOf(':');
    if (colon > 0 && host.indexOf(':') === colon && /^\d+$/.test(host.slice(colon + 1))) host = host.slice(0, colon);
    if (IPV4.test(host) || (host.includes(':') && ipaddr.isValid(host))) {
      if (!ipaddr.isValid(host)) return;
      const addr = ipaddr.parse(host);
      this.hit(this.exact.get(`v:${addr.toString()}`), host, into, seen);
      for (const r of this.ranges) if (addr.kind() === r.range[0].kind() && addr.match(r.range)) this.hit([r.indicator], host, into, seen);
      return;
    }
    this.hit(this.exact.get(`v:${host}`), host, into, seen);
    for (let dot = host.indexOf('.'); dot >= 0 && host.indexOf('.', dot + 1) >= 0; dot = host.indexOf('.', dot + 1)) {
      this.hit(this.exact.get(`v:${host.slice(dot + 1)}`), host, into, seen);
    }
  }

  private matchPath(path: string, into: IocHit[], seen: Set<Indicator>): void {
    const name = path.slice(path.lastIndexOf('/') + 1);
    this.hit(this.exact.get(`f:${name}`), path, into, seen);
    for (const ind of this.paths.get(name) ?? []) {
      if (path === ind.value || path.endsWith(`/${ind.value}`)) this.hit([ind], path, into, seen);
    }
  }
}
