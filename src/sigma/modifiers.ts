import ipaddr from 'ipaddr.js';
import type { Event } from '../evidence/event.js';
import { AhoCorasick } from './aho-corasick.js';
import { RuleError } from './errors.js';
import { lower } from './fold.js';
import { SafeRegex } from './regex.js';
import { longestLiteral, regexFacts, regexLiterals } from './literals.js';
import { globMatch, type Piece, SigmaString, STAR } from './value.js';


/** Tests one field value (a scalar; arrays are tested item by item by the caller). */
export type ValueTest = (value: unknown) => boolean;

/** Tests a field's value; `event` is there for `fieldref`, which compares with another field. */
export type FieldTest = (value: unknown, event: Event) => boolean;

const KNOWN = new Set([
  'contains', 'startswith', 'endswith', 'all', 'base64', 'base64offset', 'utf16le', 'utf16be', 'utf16', 'wide',
  'windash', 're', 'i', 'm', 's', 'cidr', 'exists', 'cased', 'fieldref', 'gt', 'gte', 'lt', 'lte', 'neq', 'expand',
  'minute', 'hour', 'day', 'week', 'month', 'year',
]);

/** A value on its way through transformation modifiers: text with wildcards, or bytes (after utf16*). */
type Work = { s: SigmaString } | { bytes: Buffer };

const WINDASH = ['-', '/', '–', '—', '―'];
const MAX_VARIANTS = 4096;

function toText(w: Work, modifier: string): SigmaString {
  if ('s' in w) return w.s;
  throw new RuleError(`"${modifier}" cannot follow an encoding to bytes (utf16*) without base64`);
}

function bytesOf(w: Work, modifier: string): Buffer {
  if ('bytes' in w) return w.bytes;
  const plain = w.s.plain;
  if (plain === undefined) throw new RuleError(`"${modifier}" cannot encode a value with wildcards`);
  return Buffer.from(plain, 'utf8');
}

function windash(s: SigmaString): SigmaString[] {
  let variants: Piece[][] = [[]];
  for (const p of s.pieces) {
    if (typeof p !== 'string') {
      variants.forEach((v) => v.push(p));
      continue;
    }
    // Like pySigma: a - or / that starts a word after a non-word character (a command-line flag).
    const parts = p.split(/\B([-/])\b/);
    for (let i = 0; i < parts.length; i++) {
      const options = i % 2 === 0 ? [parts[i]!] : WINDASH;
      const next: Piece[][] = [];
      for (const v of variants) for (const o of options) next.push([...v, o]);
      variants = next;
      if (variants.length > MAX_VARIANTS) throw new RuleError(`windash gives more than ${MAX_VARIANTS} variants`);
    }
  }
  return variants.map((v) => new SigmaString(v));
}

/** The three base64 forms of bytes that may start at any offset inside encoded text (pySigma's algorithm). */
function base64offset(b: Buffer): string[] {
  const start = [0, 2, 3];
  const end = [undefined, -3, -2];
  return [0, 1, 2].map((i) => Buffer.concat([Buffer.alloc(i, 0x20), b]).toString('base64').slice(start[i], end[(b.length + i) % 3]));
}

function transform(values: Work[], modifier: string): Work[] {
  switch (modifier) {
    case 'contains': return values.map((w) => ({ s: starAfter(starBefore(toText(w, modifier))) }));
    case 'startswith': return values.map((w) => ({ s: starAfter(toText(w, modifier)) }));
    case 'endswith': return values.map((w) => ({ s: starBefore(toText(w, modifier)) }));
    case 'base64': return values.map((w) => ({ s: SigmaString.literal(bytesOf(w, modifier).toString('base64')) }));
    case 'base64offset': return values.flatMap((w) => base64offset(bytesOf(w, modifier)).map((t) => ({ s: SigmaString.literal(t) })));
    case 'utf16le':
    case 'wide': return values.map((w) => ({ bytes: Buffer.from(toText(w, modifier).plain ?? fail(modifier), 'utf16le') }));
    case 'utf16be': return values.map((w) => ({ bytes: Buffer.from(toText(w, modifier).plain ?? fail(modifier), 'utf16le').swap16() }));
    case 'utf16': return values.map((w) => ({ bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(toText(w, modifier).plain ?? fail(modifier), 'utf16le')]) }));
    case 'windash': return values.flatMap((w) => windash(toText(w, modifier)).map((s) => ({ s })));
    default: return values;
  }
}

function fail(modifier: string): never {
  throw new RuleError(`"${modifier}" cannot encode a value with wildcards`);
}

const starBefore = (s: SigmaString) => (s.startsWithStar() ? s : s.prepend(STAR));
const starAfter = (s: SigmaString) => (s.endsWithStar() ? s : s.append(STAR));

/** Text of a field value as rules compare it; undefined for no value. */
export function valueText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Each event's values lower-cased, kept while the event lives: its keyword rules test them all, pattern after pattern. */
const loweredOfEvent = new WeakMap<object, string[]>();

/** The lower-cased texts of an event's values (array items one by one). */
export function loweredValues(event: { values(): readonly unknown[] }): readonly string[] {
  let texts = loweredOfEvent.get(event);
  if (!texts) {
    const all: string[] = [];
    someValueText(event.values(), (t) => void all.push(t));
    loweredOfEvent.set(event, (texts = all));
  }
  return texts;
}

/**
 * Calls `visit` with the lower-cased text of each value (array items one by one), until it returns
 * true; whether it did. Keyword search and the hunt prefilter read an event's values this way.
 */
export function someValueText(values: readonly unknown[], visit: (lowered: string) => boolean | void): boolean {
  for (const v of values) {
    if (Array.isArray(v)) {
      for (const x of v) {
        const t = valueText(x);
        if (t !== undefined && visit(lower(t))) return true;
      }
    } else {
      const t = valueText(v);
      if (t !== undefined && visit(lower(t))) return true;
    }
  }
  return false;
}

/** A regular expression's literals are checked before it runs only when they are this few. */
const MAX_GUARD_LITERALS = 16;

/** A test of a value's text, already case-folded as the pattern is. */
type TextTest = (folded: string) => boolean;

function textTest(pattern: SigmaString): TextTest {
  const pieces = pattern.pieces;
  const plain = pattern.plain;
  if (plain !== undefined) return (t) => t === plain;
  // Fast paths for *x*, x*, *x.
  const inner = pieces.filter((p) => p !== STAR);
  if (inner.length === 1 && typeof inner[0] === 'string') {
    const lit = inner[0];
    const first = pieces[0] === STAR;
    const last = pieces[pieces.length - 1] === STAR;
    if (pieces.length === 3 && first && last) return (t) => t.includes(lit);
    if (pieces.length === 2 && last) return (t) => t.startsWith(lit);
    if (pieces.length === 2 && first) return (t) => t.endsWith(lit);
  }
  return (t) => globMatch(pieces, t);
}

/**
 * A value test for string patterns, any of which may match: the value's text is folded once and
 * tried against each (a rule's list of 100 `contains` values folds a command line once, not 100
 * times). '' also matches an element that is present but empty (null in the evtx_dump model).
 */
function stringsTest(patterns: readonly SigmaString[], cased: boolean): ValueTest {
  const fold = cased ? (x: string) => x : lower;
  const folded = patterns.map((s) => (cased ? s : s.mapText((t) => t.toLowerCase())));
  // Cased values are left to plain searches: the automaton folds case as lower-casing a whole text does.
  const contained = cased ? undefined : containedLiterals(folded);
  const tests = (contained ? folded.filter((s) => containedLiteral(s) === undefined) : folded).map(textTest);
  if (contained) tests.push(containsAnyTest(contained));
  const matchesNull = patterns.some((s) => s.plain === '');
  return (v) => {
    if (v === null) return matchesNull;
    const t = valueText(v);
    if (t === undefined) return false;
    const f = fold(t);
    for (let i = 0; i < tests.length; i++) if (tests[i]!(f)) return true;
    return false;
  };
}

/**
 * A list of `contains` values is searched in one pass from this many values on, up to this many
 * characters (an automaton's table grows with them). Measured on Sysmon command lines and paths (61
 * characters on average) against SigmaHQ's own `contains` values: 8 values, 400–500 ns a value by a
 * search per value against 570–960 by the automaton (and 16 KB of table); even at 16; 910 against
 * 460 at 32.
 */
const CONTAINS_AUTOMATON_MIN = 16;
const CONTAINS_AUTOMATON_MAX_CHARS = 32_768;
/**
 * Such an automaton holds its literals' first four characters, their rest walked in a trie of tails:
 * every thread compiles its own, and over SigmaHQ's 229 such lists the tables took 14.1 MB a thread
 * for whole literals, 1.9 MB for prefixes of four (3.9 of eight), at the same speed (matching 8,255
 * attack-sample events with every rule, alternating in one process: 283 against 284 ms).
 */
const CONTAINS_AUTOMATON_PREFIX = 4;

/** The literal of a `*x*` pattern. */
function containedLiteral(s: SigmaString): string | undefined {
  const p = s.pieces;
  return p.length === 3 && p[0] === STAR && p[2] === STAR && typeof p[1] === 'string' && p[1] !== '' ? p[1] : undefined;
}

/** The `contains` literals of a list long enough to search in one pass, or undefined. */
function containedLiterals(patterns: readonly SigmaString[]): string[] | undefined {
  const lits = patterns.map(containedLiteral).filter((l): l is string => l !== undefined);
  const chars = lits.reduce((n, l) => n + l.length, 0);
  return lits.length >= CONTAINS_AUTOMATON_MIN && chars <= CONTAINS_AUTOMATON_MAX_CHARS ? lits : undefined;
}

/**
 * Whether a text holds any of many literals: one pass of an automaton instead of a search per literal
 * (SigmaHQ's emoji rules list 1,000 values). The automaton ignores case and lets rare characters share
 * a class, so what it finds is confirmed by an exact search for that literal.
 */
function containsAnyTest(literals: readonly string[]): (t: string) => boolean {
  // The literals are lower-cased already (`stringsTest` folds uncased values), as the automaton wants.
  const automaton = new AhoCorasick(literals, undefined, CONTAINS_AUTOMATON_PREFIX);
  return (t) => automaton.holdsExactly(t);
}

function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  gt: (a, b) => a > b, gte: (a, b) => a >= b, lt: (a, b) => a < b, lte: (a, b) => a <= b,
};

function timePart(v: unknown, unit: string): number | undefined {
  const t = valueText(v);
  if (t === undefined) return undefined;
  const d = new Date(/Z|[+-]\d\d:?\d\d$/.test(t) ? t.replace(' ', 'T') : t.replace(' ', 'T') + 'Z');
  if (Number.isNaN(d.getTime())) return undefined;
  switch (unit) {
    case 'minute': return d.getUTCMinutes();
    case 'hour': return d.getUTCHours();
    case 'day': return d.getUTCDate();
    case 'month': return d.getUTCMonth() + 1;
    case 'year': return d.getUTCFullYear();
    default: {
      // ISO week number
      const day = (d.getUTCDay() + 6) % 7;
      const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3));
      const firstThursday = new Date(Date.UTC(thursday.getUTCFullYear(), 0, 4));
      return 1 + Math.round((thursday.getTime() - firstThursday.getTime()) / 604800000 - ((firstThursday.getUTCDay() + 6) % 7 - 3) / 7);
    }
  }
}

/** A rule's `cidr` value as a range; a RuleError when it is not one. */
export function cidrRange(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  try {
    return ipaddr.parseCIDR(text);
  } catch {
    throw new RuleError(`"${text}" is not a CIDR range`);
  }
}

function cidrTest(text: string): ValueTest {
  const range = cidrRange(text);
  return (v) => {
    const t = valueText(v);
    if (t === undefined || !ipaddr.isValid(t)) return false;
    let addr = ipaddr.parse(t);
    if (addr.kind() === 'ipv6' && range[0].kind() === 'ipv4' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
    return addr.kind() === range[0].kind() && addr.match(range);
  };
}

/**
 * Compiles `field|mod1|mod2: values` into a test of the field's value. `values` are the rule's raw
 * YAML values (a list means OR, or AND with `all`).
 */
export function compileFieldTest(
  modifiers: readonly string[],
  rawValues: readonly unknown[],
  placeholders?: ReadonlyMap<string, readonly string[]>,
  /** Maps a field a rule names (in `fieldref` values) to the event's field. */
  eventField: (field: string) => string = (f) => f,
): FieldTest {
  for (const m of modifiers) if (!KNOWN.has(m)) throw new RuleError(`unknown modifier "${m}"`);
  const has = (m: string) => modifiers.includes(m);
  const all = has('all');
  const combine = (tests: ValueTest[]): ValueTest => {
    if (tests.length === 1) return tests[0]!;
    return all ? (v) => tests.every((t) => anyItem(v, t)) : (v) => tests.some((t) => t(v));
  };

  if (has('exists')) {
    const want = rawValues[0];
    if (typeof want !== 'boolean' && want !== 'true' && want !== 'false') throw new RuleError('"exists" takes true or false');
    const expected = want === true || want === 'true';
    return (v) => (v !== undefined) === expected;
  }
  if (has('fieldref')) {
    const refs = rawValues.map((r) => eventField(String(r)));
    const negate = has('neq');
    const fold = has('cased') ? (x: string) => x : lower;
    return (v, event) => {
      const mine = valueText(v);
      const hit = mine !== undefined && refs.some((ref) => {
        const other = valueText(event.get(ref));
        return other !== undefined && fold(mine) === fold(other);
      });
      return negate ? !hit && v !== undefined : hit;
    };
  }
  const timeUnit = modifiers.find((m) => ['minute', 'hour', 'day', 'week', 'month', 'year'].includes(m));
  const comparison = modifiers.find((m) => m in COMPARE);
  if (comparison || timeUnit) {
    const tests = rawValues.map((r): ValueTest => {
      const n = numberOf(r);
      if (n === undefined) throw new RuleError(`"${comparison ?? timeUnit}" needs a number, got ${JSON.stringify(r)}`);
      const cmp = comparison ? COMPARE[comparison]! : (a: number, b: number) => a === b;
      return (v) => {
        const x = timeUnit ? timePart(v, timeUnit) : numberOf(v);
        return x !== undefined && cmp(x, n);
      };
    });
    return lift(negateIf(combine(tests), has('neq')));
  }
  if (has('cidr')) return lift(negateIf(combine(rawValues.map((r) => cidrTest(String(r)))), has('neq')));
  if (has('re')) {
    const flags = (has('i') ? 'i' : '') + (has('m') ? 'm' : '') + (has('s') ? 's' : '');
    const tests = rawValues.map((r): ValueTest => {
      if (typeof r !== 'string') throw new RuleError('"re" needs a string');
      const re = SafeRegex.compile(r, flags);
      // A text too short for any match, or without the literals every match holds, is not handed to
      // RE2: a call into it costs more than these checks.
      // Only ASCII literals: lower-casing keeps them in place. A case-blind match of `s` may be `ſ`,
      // which lower-casing leaves as it is: a text holding one goes to RE2.
      const { literals, minLength } = regexFacts(r);
      const needed = literals && literals.length <= MAX_GUARD_LITERALS && literals.every((x) => /^[\x00-\x7f]+$/.test(x)) ? literals : undefined;
      return (v) => {
        const t = valueText(v);
        if (t === undefined || t.length < minLength) return false;
        if (needed) {
          const l = lower(t);
          if (!needed.some((x) => l.includes(x)) && !t.includes('\u017f')) return false;
        }
        return re.test(t);
      };
    });
    return lift(negateIf(combine(tests), has('neq')));
  }

  // Strings (with wildcards), numbers, booleans, null: each raw value expands to one or more
  // patterns (windash, base64offset), any of which matches for that value.
  // Without `all`, one test over every value's patterns; with it, one per value.
  const isNull = (v: unknown) => v === null || v === undefined;
  const patternsOf = (raw: unknown) => expandValue(modifiers, raw, placeholders);
  const strings = (raws: readonly unknown[]) => stringsTest(raws.filter((r) => r !== null).flatMap(patternsOf), has('cased'));
  let test: ValueTest;
  if (all) test = combine(rawValues.map((raw) => (raw === null ? isNull : strings([raw]))));
  else if (rawValues.length === 0) return () => false;
  else if (rawValues.includes(null)) {
    const others = strings(rawValues);
    test = (v) => isNull(v) || others(v);
  } else test = strings(rawValues);
  return lift(negateIf(test, has('neq')));
}

/** The patterns a raw string value stands for after the transformation modifiers. */
export function expandValue(modifiers: readonly string[], raw: unknown, placeholders?: ReadonlyMap<string, readonly string[]>): SigmaString[] {
  if (typeof raw === 'object') throw new RuleError(`a value cannot be a ${Array.isArray(raw) ? 'nested list' : 'map'}`);
  let works: Work[];
  if (modifiers.includes('expand') && typeof raw === 'string' && /%\w+%/.test(raw)) {
    works = expandPlaceholders(raw, placeholders).map((s) => ({ s }));
  } else works = [{ s: typeof raw === 'string' ? SigmaString.parse(raw) : SigmaString.literal(String(raw)) }];
  for (const m of modifiers) works = transform(works, m);
  return works.map((w) => toText(w, 'value'));
}

/**
 * For a field test: per raw value, literals one of which appears (lower-cased) in the event when the
 * value matches; undefined when the test gives no such guarantee (exists, comparisons, regular
 * expressions, null, short patterns …). With `all`, every value's list holds; without, one of them.
 */
export function fieldLiterals(modifiers: readonly string[], rawValues: readonly unknown[], placeholders?: ReadonlyMap<string, readonly string[]>): { all: boolean; perValue: string[][] } | undefined {
  if (modifiers.some((m) => ['exists', 'fieldref', 'cidr', 'neq', 'gt', 'gte', 'lt', 'lte', 'minute', 'hour', 'day', 'week', 'month', 'year'].includes(m))) return undefined;
  const all = modifiers.includes('all');
  const perValue: string[][] = [];
  for (const raw of rawValues) {
    const lits = raw === null ? undefined : valueLiterals(modifiers, raw, placeholders);
    // With `all` every value must match, so a value without a literal leaves the others' guarantee.
    if (lits) perValue.push(lits);
    else if (!all) return undefined;
  }
  return perValue.length ? { all, perValue } : undefined;
}

/** Literals one of which occurs when the value matches; undefined when one of its forms has none. */
function valueLiterals(modifiers: readonly string[], raw: unknown, placeholders?: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  if (modifiers.includes('re')) return typeof raw === 'string' ? regexLiterals(raw) : undefined;
  const lits: string[] = [];
  for (const s of expandValue(modifiers, raw, placeholders)) {
    const lit = longestLiteral(s);
    if (lit === undefined) return undefined;
    lits.push(lit);
  }
  return lits;
}

/** A value with %placeholders%, expanded to every combination of their values. */
function expandPlaceholders(raw: string, placeholders: ReadonlyMap<string, readonly string[]> | undefined): SigmaString[] {
  const m = /%(\w+)%/.exec(raw);
  if (!m) return [SigmaString.parse(raw)];
  const values = placeholders?.get(m[1]!);
  if (!values) throw new RuleError(`placeholder %${m[1]}% has no values (give them with a pipeline's placeholders)`);
  return values.flatMap((x) => expandPlaceholders(raw.replace(m[0], x), placeholders));
}

/** `neq`: the field has a value, and it is none of the given ones. */
function negateIf(t: ValueTest, negate: boolean): ValueTest {
  return negate ? (v) => v !== null && v !== undefined && !t(v) : t;
}

/** A value test applied to a field: arrays match when any item does; an absent field matches nothing but null. */
function lift(t: ValueTest): FieldTest {
  return (v) => anyItem(v, t);
}

function anyItem(v: unknown, t: ValueTest): boolean {
  if (Array.isArray(v)) return v.some((x) => t(x));
  return t(v);
}
