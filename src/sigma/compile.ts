import type { Event } from '../evidence/event.js';
import { buildDetection, isObj } from './detection.js';
import { RuleError } from './errors.js';
import { compileFieldTest, type FieldTest, fieldLiterals, loweredValues } from './modifiers.js';
import { bestOptions, type LiteralOptions, type Literals, longestLiteral, orOptions, stronger, union } from './literals.js';
import { globMatch, type Piece, SigmaString, STAR } from './value.js';

/** A compiled test of one event. */
export type Predicate = (event: Event) => boolean;

export interface CompileOptions {
  /** Renames rule fields to the event's fields (from a pipeline). */
  fieldMap?: ReadonlyMap<string, string>;
  placeholders?: ReadonlyMap<string, readonly string[]>;
}

/** Compiles a rule's `detection` (search identifiers and condition) into one predicate. */
export function compileDetection(detection: unknown, options: CompileOptions = {}): Predicate {
  const resolve = (f: string) => options.fieldMap?.get(f) ?? f;
  return buildDetection<Predicate>(
    detection,
    {
      field(field, modifiers, values) {
        const test: FieldTest = compileFieldTest(modifiers, values, options.placeholders, resolve);
        return (e) => test(e.get(field), e);
      },
      keywords: keywordPredicate,
      and: (ps) => (ps.length === 1 ? ps[0]! : (e) => ps.every((p) => p(e))),
      or: (ps) => (ps.length === 1 ? ps[0]! : (e) => ps.some((p) => p(e))),
      not: (p) => (e) => !p(e),
      atLeast: (ps, need) => (e) => {
        let n = 0;
        for (const p of ps) if (p(e) && ++n >= need) return true;
        return false;
      },
      never: () => () => false,
    },
    options,
  );
}

/** Keywords: each value matched anywhere in any value of the event, case-insensitively. */
function keywordPredicate(values: readonly unknown[], all: boolean): Predicate {
  const patterns = values.map((v) => {
    if (v === null || typeof v === 'object') throw new RuleError('a keyword must be a string or number');
    const s = SigmaString.parse(String(v)).mapText((t) => t.toLowerCase());
    const plain = s.plain;
    const pieces: Piece[] = [STAR, ...s.pieces, STAR];
    return (text: string) => (plain !== undefined ? text.includes(plain) : globMatch(pieces, text));
  });
  const found = (e: Event, test: (t: string) => boolean) => loweredValues(e).some(test);
  return all ? (e) => patterns.every((p) => found(e, p)) : (e) => patterns.some((p) => found(e, p));
}

/**
 * Literals a prefilter can look for: if the detection matches an event, one of them occurs in the
 * event's text (lower-cased, any field). Derived from the same values and modifiers as the matcher.
 */
export function detectionLiterals(detection: unknown, options: CompileOptions = {}): Literals {
  const keyword = (v: unknown): Literals => {
    if (typeof v !== 'string' && typeof v !== 'number') return undefined;
    const lit = longestLiteral(SigmaString.parse(String(v)));
    return lit ? [lit] : undefined;
  };
  const all = (parts: Literals[]) => parts.reduce(stronger, undefined);
  try {
    return buildDetection<Literals>(
      detection,
      {
        field(_field, modifiers, values) {
          let f: ReturnType<typeof fieldLiterals>;
          try {
            f = fieldLiterals(modifiers, values, options.placeholders);
          } catch {
            return undefined;
          }
          if (!f) return undefined;
          return f.all ? all(f.perValue) : union(f.perValue);
        },
        keywords: (values, every) => (every ? all(values.map(keyword)) : union(values.map(keyword))),
        and: all,
        or: union,
        // Text a negation needs is text an event need not hold.
        not: () => undefined,
        atLeast: union,
        never: () => undefined,
      },
      options,
    );
  } catch {
    // A detection the engine cannot compile has no prefilter; the rule is refused elsewhere.
    return undefined;
  }
}

/**
 * The necessary literal sets of a detection, to choose among (see LiteralOptions): the same values and
 * modifiers as `detectionLiterals`, kept apart where that picks one by a length heuristic.
 */
export function detectionLiteralOptions(detection: unknown, options: CompileOptions = {}): LiteralOptions {
  const keyword = (v: unknown): string[] | undefined => {
    if (typeof v !== 'string' && typeof v !== 'number') return undefined;
    const lit = longestLiteral(SigmaString.parse(String(v)));
    return lit ? [lit] : undefined;
  };
  const defined = (sets: Literals[]): string[][] => sets.filter((x): x is string[] => !!x);
  try {
    return buildDetection<LiteralOptions>(
      detection,
      {
        field(_field, modifiers, values) {
          let f: ReturnType<typeof fieldLiterals>;
          try {
            f = fieldLiterals(modifiers, values, options.placeholders);
          } catch {
            return [];
          }
          if (!f) return [];
          if (f.all) return bestOptions(defined(f.perValue));
          const u = union(f.perValue);
          return u ? [u] : [];
        },
        keywords: (values, every) => {
          const sets = values.map(keyword);
          if (every) return bestOptions(defined(sets));
          const u = union(sets);
          return u ? [u] : [];
        },
        and: (parts) => bestOptions(parts.flat()),
        or: orOptions,
        not: () => [],
        atLeast: orOptions,
        never: () => [],
      },
      options,
    );
  } catch {
    return [];
  }
}

/** The event fields a detection tests (named as the event names them), for showing what a detection matched on. */
/**
 * The keywords a detection searches every value for (list searches and `'|all'` maps without a
 * field), as text, wildcards aside: what a detection of a keyword rule shows as matched.
 */
export function detectionKeywords(detection: unknown): string[] {
  if (!isObj(detection)) return [];
  const words = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v !== 'string' && typeof v !== 'number') return;
    // The longest run without wildcards is what a matching value surely holds.
    const text = String(v).split(/(?<!\\)[*?]/).sort((a, b) => b.length - a.length)[0]!.replace(/\\([*?\\])/g, '$1');
    if (text) words.add(text);
  };
  for (const [id, search] of Object.entries(detection)) {
    if (id === 'condition' || id === 'timeframe') continue;
    if (Array.isArray(search) && !search.some(isObj)) search.forEach(add);
    else if (typeof search === 'string' || typeof search === 'number') add(search);
    else if (isObj(search)) for (const [key, v] of Object.entries(search)) if (key.startsWith('|')) (Array.isArray(v) ? v : [v]).forEach(add);
  }
  return [...words];
}

export function detectionFields(detection: unknown, fieldMap?: ReadonlyMap<string, string>): string[] {
  if (!isObj(detection)) return [];
  const fields = new Set<string>();
  const visit = (search: unknown): void => {
    if (Array.isArray(search)) return search.forEach(visit);
    if (!isObj(search)) return;
    for (const key of Object.keys(search)) {
      const field = key.split('|')[0]!;
      if (field) fields.add(fieldMap?.get(field) ?? field);
    }
  };
  for (const [id, search] of Object.entries(detection)) if (id !== 'condition' && id !== 'timeframe') visit(search);
  return [...fields];
}
