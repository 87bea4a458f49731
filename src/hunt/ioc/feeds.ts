import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { yaml } from '../../common/yaml.js';
import { type Indicator, makeIndicator } from './indicator.js';

/** A feed larger than this is refused: indicator feeds are lists, not evidence. */
const MAX_FEED_BYTES = 256 * 1024 * 1024;

export interface Feed {
  file: string;
  format: 'stix' | 'misp' | 'csv' | 'chirp' | 'text';
  indicators: Indicator[];
  /** Entries read but not used (kinds Spoor does not match, STIX patterns with AND), counted by reason. */
  skipped: Map<string, number>;
}

export class FeedError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Reads an IoC feed, its format told by its content: a STIX 2.1 bundle (indicators' patterns), a MISP
 * event export (attributes, those of objects too), CISA CHIRP's YAML, a CSV with an indicator column
 * (Microsoft's MSTIC feeds), or a plain list, one indicator a line (Loki's `value;comment`, `#` comments).
 */
export function loadFeed(file: string): Feed {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new FeedError(`${file}: ${(e as Error).message}`);
  }
  if (size > MAX_FEED_BYTES) throw new FeedError(`${file}: ${size} bytes; feeds over ${MAX_FEED_BYTES} bytes are refused`);
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  const feed = basename(file);
  const skipped = new Map<string, number>();
  const skip = (why: string) => skipped.set(why, (skipped.get(why) ?? 0) + 1);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new FeedError(`${file}: not valid JSON: ${(e as Error).message}`);
    }
    const objects = isObj(doc) && Array.isArray(doc.objects) ? doc.objects : Array.isArray(doc) && doc.every((o) => isObj(o) && typeof o.type === 'string' && !('Event' in o)) ? doc : undefined;
    if (objects) return { file, format: 'stix', indicators: stixIndicators(objects, feed, skip), skipped };
    if (isObj(doc) && doc.type === 'indicator') return { file, format: 'stix', indicators: stixIndicators([doc], feed, skip), skipped };
    const events = mispEvents(doc);
    if (events.length) return { file, format: 'misp', indicators: events.flatMap((e) => mispIndicators(e, feed, skip)), skipped };
    throw new FeedError(`${file}: JSON that is neither a STIX 2.1 bundle nor a MISP event`);
  }
  if (/^\s*(ioc_type|indicator)\s*:/m.test(text) && /^---/m.test(text)) return { file, format: 'chirp', indicators: chirpIndicators(text, feed, skip, file), skipped };
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  if (firstLine.includes(',') && /(^|,)"?(indicator|ioc|value|observable)"?(,|$)/i.test(firstLine)) return { file, format: 'csv', indicators: csvIndicators(text, feed, skip, file), skipped };
  return { file, format: 'text', indicators: textIndicators(text, feed, skip), skipped };
}

/**
 * `object-path = 'value'`. A path starts only where no path character precedes it: else a long run
 * of such characters is tried from each of its positions (quadratic in a hostile feed).
 */
const STIX_COMPARISON = /(?<![a-z0-9-])([a-z0-9-]+:[\w.'-]+)\s*(=|ISSUBSET)\s*'((?:\\.|[^'\\])*)'/gi;

const STIX_PATHS: [RegExp, string][] = [
  [/^ipv4-addr:value$|^ipv6-addr:value$|^network-traffic:(dst|src)_ref\.value$/, 'ip'],
  [/^domain-name:value$/, 'domain'],
  [/^url:value$/, 'url'],
  [/^file:hashes\.('?SHA-?256'?|SHA256)$/i, 'sha256'],
  [/^file:hashes\.('?SHA-?1'?|SHA1)$/i, 'sha1'],
  [/^file:hashes\.'?MD5'?$/i, 'md5'],
  [/^file:name$/, 'filename'],
  [/^(file:parent_directory_ref\.path|directory:path)$/, 'filepath'],
];

function stixIndicators(objects: unknown[], feed: string, skip: (why: string) => void): Indicator[] {
  const out: Indicator[] = [];
  for (const o of objects) {
    if (!isObj(o) || o.type !== 'indicator') continue;
    if (o.pattern_type !== undefined && o.pattern_type !== 'stix') {
      skip(`${String(o.pattern_type)} patterns`);
      continue;
    }
    const pattern = typeof o.pattern === 'string' ? o.pattern : '';
    // Only patterns that any one comparison satisfies: an AND (or a sequence) needs more than one observable.
    if (/\b(AND|FOLLOWEDBY)\b/.test(pattern.replace(/'(?:\\.|[^'\\])*'/g, "''"))) {
      skip('STIX patterns combining comparisons with AND');
      continue;
    }
    const extra = { id: typeof o.id === 'string' ? o.id : undefined, name: typeof o.name === 'string' ? o.name : undefined };
    const comparisons = [...pattern.matchAll(STIX_COMPARISON)];
    if (!comparisons.length) skip('STIX patterns without an equality');
    for (const [, path, op, raw] of comparisons) {
      const kind = STIX_PATHS.find(([re]) => re.test(path!))?.[1];
      const value = raw!.replace(/\\(.)/g, '$1');
      const ind = kind ? makeIndicator(value, op!.toUpperCase() === 'ISSUBSET' ? 'cidr' : kind, feed, extra) : undefined;
      if (ind) out.push(ind);
      else skip(`STIX ${path}`);
    }
  }
  return out;
}

function mispEvents(doc: unknown): Obj[] {
  if (Array.isArray(doc)) return doc.flatMap(mispEvents);
  if (!isObj(doc)) return [];
  if (isObj(doc.Event)) return [doc.Event];
  if (Array.isArray(doc.response)) return doc.response.flatMap(mispEvents);
  return [];
}

/** MISP attribute types Spoor matches, with the part of a composite value (`filename|sha256`) each names. */
const MISP_TYPES: Record<string, string> = {
  'ip-src': 'ip', 'ip-dst': 'ip', ip: 'ip', domain: 'domain', hostname: 'domain', url: 'url', uri: 'url', link: 'url',
  md5: 'md5', sha1: 'sha1', sha256: 'sha256', filename: 'filename', 'x509-fingerprint-sha1': 'sha1',
};

function mispIndicators(event: Obj, feed: string, skip: (why: string) => void): Indicator[] {
  const attributes = [...(Array.isArray(event.Attribute) ? event.Attribute : []), ...(Array.isArray(event.Object) ? event.Object.flatMap((o) => (isObj(o) && Array.isArray(o.Attribute) ? o.Attribute : [])) : [])];
  const out: Indicator[] = [];
  const name = typeof event.info === 'string' ? event.info : undefined;
  for (const a of attributes) {
    if (!isObj(a) || typeof a.type !== 'string' || typeof a.value !== 'string') continue;
    const types = a.type.split('|');
    const values = types.length > 1 ? a.value.split('|') : [a.value];
    let used = false;
    types.forEach((t, i) => {
      const kind = MISP_TYPES[t];
      const ind = kind && values[i] !== undefined ? makeIndicator(values[i]!, kind, feed, { id: typeof a.uuid === 'string' ? a.uuid : undefined, name }) : undefined;
      if (ind) {
        out.push(ind);
        used = true;
      }
    });
    if (!used) skip(`MISP ${a.type}`);
  }
  return out;
}

function chirpIndicators(text: string, feed: string, skip: (why: string) => void, file: string): Indicator[] {
  const out: Indicator[] = [];
  for (const doc of yaml().parseAllDocuments(text)) {
    if (doc.errors.length) throw new FeedError(`${file}: line ${doc.errors[0]!.linePos?.[0]?.line ?? '?'}: ${doc.errors[0]!.message}`);
    let d: unknown;
    try {
      d = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new FeedError(`${file}: ${(e as Error).message}`);
    }
    if (!isObj(d) || !isObj(d.indicator)) continue;
    const name = typeof d.name === 'string' ? d.name : undefined;
    let used = false;
    for (const [key, kind] of [['ips', 'ip'], ['domains', 'domain'], ['hashes', undefined], ['files', undefined]] as const) {
      const v = d.indicator[key];
      if (typeof v !== 'string' || (key === 'files' && d.ioc_type !== 'file')) continue;
      for (const line of v.split(/\r?\n/)) {
        const ind = makeIndicator(line, kind, feed, { name });
        if (ind) {
          out.push(ind);
          used = true;
        }
      }
    }
    if (!used) skip(`CHIRP ${String(d.ioc_type)} checks`);
  }
  return out;
}

function csvIndicators(text: string, feed: string, skip: (why: string) => void, file: string): Indicator[] {
  let rows: Record<string, string>[];
  try {
    rows = parseCsv(text, { columns: (h: string[]) => h.map((x) => x.trim().toLowerCase()), skip_empty_lines: true, relax_column_count: true, bom: true });
  } catch (e) {
    throw new FeedError(`${file}: ${(e as Error).message}`);
  }
  const out: Indicator[] = [];
  for (const r of rows) {
    const value = r.indicator ?? r.ioc ?? r.value ?? r.observable ?? '';
    const kind = r.indicatortype ?? r.type ?? r['indicator type'] ?? r.ioc_type;
    const ind = makeIndicator(value, kind || undefined, feed, { name: r.description || r.comment || undefined });
    if (ind) out.push(ind);
    else skip(`CSV ${kind || 'values of no known kind'}`);
  }
  return out;
}

function textIndicators(text: string, feed: string, skip: (why: string) => void): Indicator[] {
  const out: Indicator[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith('//')) continue;
    const [value, comment] = t.split(';', 2);
    // Loki's filename lists (`regex;score`) are regular expressions over paths: not matched as indicators.
    const scored = comment !== undefined && /^\s*\d+\s*$/.test(comment) && !/^[0-9a-f]{32,64}$/i.test(value!.trim());
    if (scored || /\\[\\.$^*+?()[\]{}|dswb]|\.\*|\(\?|\$$|^\^/.test(value!)) {
      skip('regular expressions (Loki filename lists)');
      continue;
    }
    const ind = makeIndicator(value!, undefined, feed, comment ? { name: comment.trim() } : {});
    if (ind) out.push(ind);
    else skip('lines of no known kind');
  }
  return out;
}
