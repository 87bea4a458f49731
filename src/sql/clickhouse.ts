import ipaddr from 'ipaddr.js';
import { buildDetection } from '../sigma/detection.js';
import { RuleError } from '../sigma/errors.js';
import { cidrRange, expandValue } from '../sigma/modifiers.js';
import { type Pipeline, type PipelineSource, sourcesFor } from '../sigma/pipeline.js';
import type { SigmaRule } from '../sigma/rule.js';
import { ONE, type SigmaString, STAR } from '../sigma/value.js';
import { COLUMN_OF_FIELD, KIND, loweredSql } from './schema.js';

/**
 * Sigma rules as ClickHouse SQL with the in-process engine's exact meaning. An event's fields are
 * parallel arrays (`names`, `vals`, `kinds`: scalar, null or other, and `lvals_unicode`: the lower
 * case Spoor gave a value not in ASCII), so a rule's field test is `arrayExists` over them: a field that is absent matches nothing
 * but `null`, every item of a multi-valued field is tried, and matching is case-insensitive unless
 * `cased`, with the same lower-casing as the engine's. The SQL sticks to functions ClickHouse 18.16
 * has, and works the same on current releases.
 */
export class NotConvertible extends Error {}

export interface ConvertOptions {
  fieldMap?: ReadonlyMap<string, string>;
  placeholders?: ReadonlyMap<string, readonly string[]>;
}

/** A ClickHouse string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A Sigma pattern as a LIKE pattern: * and ? as % and _, their own characters escaped. */
function likePattern(s: SigmaString, fold: boolean): string {
  return s.pieces.map((p) => (p === STAR ? '%' : p === ONE ? '_' : (fold ? p.toLowerCase() : p).replace(/[\\%_]/g, (c) => `\\${c}`))).join('');
}

/** Text matched by itself in an RE2 pattern: its metacharacters escaped, control characters as code points. */
export function regexLiteral(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\\^$.|?*+()[\]{}]|[\x00-\x1f\x7f]/g, (c) => (c < ' ' || c === '\x7f' ? `\\x{${c.charCodeAt(0).toString(16)}}` : `\\${c}`));
}

/** Patterns in a list from which it is tested by one regular expression (one pass) rather than pattern by pattern. */
const REGEX_FROM = 4;

/**
 * Characters of alternatives in one regular expression. RE2 falls back from its DFA to a far slower
 * engine when the DFA outgrows its memory: on 50,000 rows, 1,971 emoji (two SigmaHQ rules) as one
 * expression took 45 s, as two of under 8,000 characters 0.07 s; 4,432 hashes in parts of 8,000
 * characters 0.3 s, of 32,000 1.0 s.
 */
const REGEX_CHARS = 8000;

/** Alternatives as few regular expressions as keep each under REGEX_CHARS: `match` of each, ORed. */
function matchAny(column: string, alternatives: readonly string[], flags = ''): string {
  const parts: string[][] = [];
  let size = Infinity;
  for (const a of alternatives) {
    if (size + a.length > REGEX_CHARS) (parts.push([]), (size = 0));
    parts.at(-1)!.push(a);
    size += a.length + 1;
  }
  return or(parts.map((p) => `match(${column}, ${sqlString(flags + p.join('|'))})`));
}

/** Whether some text holds one of some literals: a pass of RE2 over it for more than a few (see matchAny), one search each for fewer. */
export function holdsOneOf(column: string, literals: readonly string[]): string {
  if (literals.length >= REGEX_FROM) return matchAny(column, literals.map(regexLiteral));
  return or(literals.map((l) => `position(${column}, ${sqlString(l)}) > 0`));
}

/**
 * A field's items, one array per column (`arrayFilter` by name): the same text wherever a batch's
 * rules test the field, which ClickHouse computes once per query, and the items tested are then only
 * the field's (ClickHouse 18.16 evaluates both sides of AND, so a test over every item of the event
 * costs every rule every field).
 */
const itemsOf = (field: string, column: string) => `arrayFilter((x, n) -> n = ${sqlString(field)}, ${column}, names)`;
/**
 * `arrayExists` over the items of one field: `item` sees v, lv (lower-cased) and k (kind), and only
 * the arrays it reads are taken out (lower-casing an item is work).
 */
function anyItem(field: string, item: string): string {
  const uses = (name: string) => new RegExp(`\\b${name}\\b`).test(item);
  const params: string[] = [];
  const arrays: string[] = [];
  if (uses('v')) (params.push('v'), arrays.push(itemsOf(field, 'vals')));
  if (uses('lv')) (params.push('lv'), arrays.push(`arrayMap((v, u) -> ${loweredSql('v', 'u')}, ${itemsOf(field, 'vals')}, ${itemsOf(field, 'lvals_unicode')})`));
  if (uses('k') || !params.length) (params.push('k'), arrays.push(itemsOf(field, 'kinds')));
  return `arrayExists((${params.join(', ')}) -> ${item}, ${arrays.join(', ')})`;
}
/** The text of the one item of a field at `indexOf` (lower-cased unless `cased`). */
export const itemAt = (field: string, cased: boolean) => {
  const at = (column: string) => `${column}[indexOf(names, ${sqlString(field)})]`;
  return cased ? at('vals') : loweredSql(at('vals'), at('lvals_unicode'));
};
const hasField = (field: string) => `has(names, ${sqlString(field)})`;
const or = (parts: string[]) => (parts.length === 0 ? '0' : parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`);
const and = (parts: string[]) => (parts.length === 0 ? '1' : parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`);

const COMPARE: Record<string, string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' };
const TIME_UNITS = ['minute', 'hour', 'day', 'week', 'month', 'year'];

/** A pattern of literals and `*` only as an RE2 pattern matching the whole text. */
function wholeRegex(s: SigmaString, fold: boolean): string {
  const body = s.pieces.map((p) => (p === STAR ? '.*' : regexLiteral(fold ? (p as string).toLowerCase() : (p as string)))).join('');
  return `^${body}$`.replace(/^\^\.\*/, '').replace(/\.\*\$$/, '');
}

/**
 * One item's test for any of some string patterns (the engine's stringsTest): scalars and nulls (as
 * ''), never other values. Plain texts are one set (IN); more than a few patterns of literals and `*`
 * are one regular expression; the rest are LIKE each.
 */
function patternsItem(patterns: readonly SigmaString[], cased: boolean): string {
  const column = cased ? 'v' : 'lv';
  const text = (p: string) => (cased ? p : p.toLowerCase());
  const tests: string[] = [];
  // A null (stored as '') matches only the empty pattern, as in the engine.
  if (patterns.some((s) => s.plain === '')) tests.push(`(k != ${KIND.other} AND ${column} = '')`);
  const plain = [...new Set(patterns.filter((s) => s.plain !== undefined && s.plain !== '').map((s) => text(s.plain!)))];
  const wild = patterns.filter((s) => s.plain === undefined);
  const starred = wild.filter((s) => !s.pieces.includes(ONE));
  const regexed = starred.length >= REGEX_FROM ? starred : [];
  const scalar: string[] = [];
  if (plain.length) scalar.push(plain.length === 1 ? `${column} = ${sqlString(plain[0]!)}` : `${column} IN (${plain.map(sqlString).join(', ')})`);
  if (regexed.length) scalar.push(matchAny(column, regexed.map((s) => wholeRegex(s, !cased)), '(?s)'));
  for (const s of wild) if (!regexed.includes(s)) scalar.push(`${column} LIKE ${sqlString(likePattern(s, !cased))}`);
  if (scalar.length) tests.push(`(k = ${KIND.scalar} AND ${or(scalar)})`);
  return or(tests);
}

function numberOf(raw: unknown, modifier: string): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw.trim()) : NaN;
  if (Number.isNaN(n)) throw new RuleError(`"${modifier}" needs a number, got ${JSON.stringify(raw)}`);
  return n;
}

function cidrItem(text: string): string {
  const range = cidrRange(text);
  if (range[0].kind() === 'ipv6') return ipv6CidrItem(range[0] as ipaddr.IPv6, range[1]);
  const bytes = (range[0] as ipaddr.IPv4).octets;
  const net = ((bytes[0]! << 24) >>> 0) + (bytes[1]! << 16) + (bytes[2]! << 8) + bytes[3]!;
  const mask = range[1] === 0 ? 0 : (0xffffffff << (32 - range[1])) >>> 0;
  // Dotted quads only (what ipaddr.js reads as IPv4), IPv4-mapped IPv6 included, as the engine compares.
  const addr = `replaceRegexpOne(lv, '^::ffff:', '')`;
  return `k = ${KIND.scalar} AND match(lv, '^(::ffff:)?[0-9]{1,3}\\\\.[0-9]{1,3}\\\\.[0-9]{1,3}\\\\.[0-9]{1,3}$') AND bitAnd(IPv4StringToNum(${addr}), ${mask}) = ${(net & mask) >>> 0}`;
}

/**
 * An IPv6 range by the hex digits of the address (ClickHouse 18.16 has no IPv6 range function):
 * the whole digits of the prefix compared as text, a part digit by the digits its bits allow. Only
 * values with a colon are addresses here, as for ipaddr.js; what IPv6StringToNum cannot read (all
 * zeros) matches nothing, so the unspecified address :: never matches a range.
 */
function ipv6CidrItem(net: ipaddr.IPv6, bits: number): string {
  const hex = net.toByteArray().map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  const whole = Math.floor(bits / 4);
  const h = 'hex(IPv6StringToNum(lv))';
  const tests = [`k = ${KIND.scalar}`, "position(lv, ':') > 0", `${h} != '${'0'.repeat(32)}'`];
  if (whole) tests.push(`substring(${h}, 1, ${whole}) = '${hex.slice(0, whole)}'`);
  const rest = bits % 4;
  if (rest) {
    const mask = (0xf << (4 - rest)) & 0xf;
    const want = parseInt(hex[whole]!, 16) & mask;
    const allowed = Array.from({ length: 16 }, (_, d) => d).filter((d) => (d & mask) === want).map((d) => `'${d.toString(16).toUpperCase()}'`);
    tests.push(`substring(${h}, ${whole + 1}, 1) IN (${allowed.join(', ')})`);
  }
  return tests.join(' AND ');
}

/** `field|modifiers: values` as SQL (compileFieldTest's meaning). */
export function fieldSql(field: string, modifiers: readonly string[], rawValues: readonly unknown[], options: ConvertOptions): string {
  const has = (m: string) => modifiers.includes(m);
  const all = has('all');
  const eventField = (f: string) => options.fieldMap?.get(f) ?? f;
  if (has('exists')) {
    const want = rawValues[0];
    if (typeof want !== 'boolean' && want !== 'true' && want !== 'false') throw new RuleError('"exists" takes true or false');
    return want === true || want === 'true' ? hasField(field) : `NOT ${hasField(field)}`;
  }
  if (has('fieldref')) {
    // The engine compares the texts of two single scalar values.
    const one = (f: string) => `countEqual(names, ${sqlString(f)}) = 1 AND kinds[indexOf(names, ${sqlString(f)})] = ${KIND.scalar}`;
    const hit = or(rawValues.map((r) => {
      const ref = eventField(String(r));
      return and([one(field), one(ref), `${itemAt(field, has('cased'))} = ${itemAt(ref, has('cased'))}`]);
    }));
    return has('neq') ? `(${hasField(field)} AND NOT ${hit})` : hit;
  }
  const negate = has('neq');
  // One item test per raw value; combined with OR (any item of any value) or, with `all`, each value by some item.
  const itemTests = (): string[] => {
    const unit = modifiers.find((m) => TIME_UNITS.includes(m));
    if (unit) throw new NotConvertible(`"${unit}" modifier: time parts of values are not converted`);
    const cmp = modifiers.find((m) => m in COMPARE);
    if (cmp) return rawValues.map((r) => `k = ${KIND.scalar} AND ifNull(toFloat64OrNull(replaceRegexpAll(v, '^\\\\s+|\\\\s+$', '')) ${COMPARE[cmp]} ${numberOf(r, cmp)}, 0)`);
    if (has('cidr')) return rawValues.map((r) => cidrItem(String(r)));
    if (has('re')) {
      const flags = (has('i') ? 'i' : '') + (has('m') ? 'm' : '') + (has('s') ? 's' : '');
      return rawValues.map((r) => {
        if (typeof r !== 'string') throw new RuleError('"re" needs a string');
        // Flags as a group: ClickHouse 18.16 ignores a leading (?i) before a pattern it takes for a
        // literal, the modifiers' and the rule's own alike (SigmaHQ writes `(?i)` in 20 rules).
        const own = /^\(\?([imsU]+)\)/.exec(r);
        const all = [...new Set(flags + (own?.[1] ?? ''))].join('');
        const body = own ? r.slice(own[0].length) : r;
        return `k = ${KIND.scalar} AND match(v, ${sqlString(all ? `(?${all}:${body})` : body)})`;
      });
    }
    const patterns = (values: unknown[]) => patternsItem(values.flatMap((r) => expandValue(modifiers, r, options.placeholders)), has('cased'));
    // With `all` each value is tested alone; else the values are one list, tested at once.
    if (all) return rawValues.map((r) => (r === null ? `k = ${KIND.null}` : patterns([r])));
    const strings = rawValues.filter((r) => r !== null);
    return [or([...(strings.length < rawValues.length ? [`k = ${KIND.null}`] : []), ...(strings.length ? [patterns(strings)] : [])])];
  };
  const items = itemTests();
  const nullWanted = !negate && rawValues.includes(null);
  const absentOrNull = (test: string) => (nullWanted ? `(NOT ${hasField(field)} OR ${test})` : test);
  if (negate) {
    // The field has an item that is not null and matches none of the values.
    return anyItem(field, `k != ${KIND.null} AND NOT ${or(items.map((i) => `(${i})`))}`);
  }
  if (all && rawValues.length > 1) return and(rawValues.map((r, i) => (r === null ? `(NOT ${hasField(field)} OR ${anyItem(field, items[i]!)})` : anyItem(field, items[i]!))));
  return absentOrNull(anyItem(field, or(items.map((i) => `(${i})`))));
}

/** Keywords: each value anywhere in any scalar value of the event, case-insensitively. */
function keywordSql(values: readonly unknown[], all: boolean): string {
  const tests = values.map((v) => {
    if (v === null || typeof v === 'object') throw new RuleError('a keyword must be a string or number');
    const s = expandValue([], v)[0]!;
    const pattern = `%${likePattern(s, true)}%`;
    return `arrayExists((v, u, k) -> k = ${KIND.scalar} AND ${loweredSql('v', 'u')} LIKE ${sqlString(pattern)}, vals, lvals_unicode, kinds)`;
  });
  return all ? and(tests) : or(tests);
}

/** A rule's detection (searches and condition) as one SQL boolean expression. */
export function detectionSql(detection: unknown, options: ConvertOptions = {}): string {
  return buildDetection<string>(
    detection,
    {
      field: (field, modifiers, values) => fieldSql(field, modifiers, values, options),
      keywords: keywordSql,
      and,
      or,
      not: (part) => `NOT ${part}`,
      atLeast: (parts, n) => `(${parts.map((p) => `toUInt8(${p})`).join(' + ')}) >= ${n}`,
      never: () => '0',
    },
    options,
  );
}

/** Whether an event belongs to a pipeline source: Channel and EventID on their columns, other fields in the arrays. */
function sourceSql(source: PipelineSource): string {
  return and([...source.conditions].map(([field, allowed]) => {
    const list = allowed.map(sqlString).join(', ');
    const column = COLUMN_OF_FIELD[field];
    if (column) return `lowerUTF8(${column}) IN (${list})`;
    return `(countEqual(names, ${sqlString(field)}) = 1 AND ${anyItem(field, `k = ${KIND.scalar} AND lv IN (${list})`)})`;
  }));
}

/** A rule as one SQL condition over the events table: for each log source it stands for, belonging to it and matching there. */
export function ruleSql(rule: SigmaRule, pipeline: Pipeline): string {
  if (rule.status === 'deprecated') throw new NotConvertible('deprecated');
  const sources = sourcesFor(pipeline, rule.logsource);
  if (sources.length === 0) throw new NotConvertible(`unsupported logsource (${Object.entries(rule.logsource).filter(([k]) => k !== 'definition').map(([k, v]) => `${k}: ${v}`).join(', ')})`);
  return or(sources.map((s) => and([sourceSql(s), detectionSql(rule.detection, { fieldMap: s.fields, placeholders: pipeline.placeholders })])));
}

/** The event id of a slot that stands for every event of its channel (a log source naming a channel and no event id). */
export const ANY_EVENT_ID = '*';

/**
 * The events a rule can match, by the columns a query reads first: the channels (lower-cased; none
 * when a log source it stands for names none) and the (channel, event id) pairs, an event id of
 * ANY_EVENT_ID standing for the whole channel (none when a log source names no channel).
 */
export function ruleKinds(rule: SigmaRule, pipeline: Pipeline): { channels?: string[]; slots?: [string, string][] } {
  const channels = new Set<string>();
  const slots = new Map<string, [string, string]>();
  let allChannels = true;
  for (const s of sourcesFor(pipeline, rule.logsource)) {
    const cs = s.conditions.get('Channel');
    const ids = s.conditions.get('EventID');
    allChannels &&= cs !== undefined;
    for (const c of cs ?? []) {
      channels.add(c);
      for (const id of ids ?? [ANY_EVENT_ID]) slots.set(`${c}\n${id}`, [c, id]);
    }
  }
  return allChannels ? { channels: [...channels].sort(), slots: [...slots.keys()].sort().map((k) => slots.get(k)!) } : {};
}
