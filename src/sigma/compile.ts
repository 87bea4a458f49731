import type { Event } from '../evidence/event.js';
import { type Condition, ConditionError, identifiersFor, parseCondition } from './condition.js';
import { RuleError } from './errors.js';
import { compileFieldTest, type FieldTest, fieldLiterals, loweredValues } from './modifiers.js';
import { type Literals, longestLiteral, stronger, union } from './literals.js';
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
  if (!isObj(detection)) throw new RuleError('detection must be a map');
  const { condition, ...searches } = detection;
  if (condition === undefined) throw new RuleError('detection has no condition');
  const ids = Object.keys(searches).filter((k) => k !== 'timeframe');
  const compiled = new Map<string, Predicate>();
  for (const id of ids) {
    try {
      compiled.set(id, compileSearch(id, searches[id], options));
    } catch (e) {
      if (e instanceof RuleError) throw new RuleError(e.message, [id, ...e.path]);
      throw e;
    }
  }
  const conditions = (Array.isArray(condition) ? condition : [condition]).map((c) => {
    if (typeof c !== 'string') throw new RuleError('condition must be a string');
    try {
      return toPredicate(parseCondition(c), compiled, ids);
    } catch (e) {
      if (e instanceof ConditionError) throw new RuleError(`condition: ${e.message}`);
      throw e;
    }
  });
  return conditions.length === 1 ? conditions[0]! : (e) => conditions.some((p) => p(e));
}

function toPredicate(c: Condition, searches: Map<string, Predicate>, ids: string[]): Predicate {
  switch (c.op) {
    case 'id': {
      const p = searches.get(c.name);
      if (!p) throw new RuleError(`condition names "${c.name}", which the detection does not define`);
      return p;
    }
    case 'not': {
      const p = toPredicate(c.arg, searches, ids);
      return (e) => !p(e);
    }
    case 'and': {
      const ps = c.args.map((a) => toPredicate(a, searches, ids));
      return (e) => ps.every((p) => p(e));
    }
    case 'or': {
      const ps = c.args.map((a) => toPredicate(a, searches, ids));
      return (e) => ps.some((p) => p(e));
    }
    case 'of': {
      const names = identifiersFor(c.pattern, ids);
      if (names.length === 0) throw new RuleError(`"${c.pattern}" matches no search identifier`);
      const ps = names.map((n) => searches.get(n)!);
      if (c.count === 'all') return (e) => ps.every((p) => p(e));
      const need = c.count;
      return (e) => {
        let n = 0;
        for (const p of ps) if (p(e) && ++n >= need) return true;
        return false;
      };
    }
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A search identifier: a map (AND of fields), a list of maps (OR), or a list of keywords (OR). */
function compileSearch(id: string, search: unknown, options: CompileOptions): Predicate {
  if (isObj(search)) return compileMap(search, options);
  if (Array.isArray(search)) {
    if (search.length === 0) throw new RuleError(`search "${id}" is an empty list`);
    if (search.every(isObj)) {
      const ps = search.map((m) => compileMap(m as Obj, options));
      return (e) => ps.some((p) => p(e));
    }
    if (search.some(isObj)) throw new RuleError(`search "${id}" mixes maps and keywords`);
    return keywordPredicate(search, false);
  }
  if (typeof search === 'string' || typeof search === 'number') return keywordPredicate([search], false);
  throw new RuleError(`search "${id}" must be a map or a list`);
}

function compileMap(map: Obj, options: CompileOptions): Predicate {
  const tests: Predicate[] = [];
  for (const [key, raw] of Object.entries(map)) {
    const [fieldName, ...modifiers] = key.split('|');
    const values = Array.isArray(raw) ? raw : [raw];
    if (fieldName === '') {
      // Keywords with modifiers: '|all': [a, b] (the only modifier keyword searches take).
      if (modifiers.some((m) => m !== 'all')) throw new RuleError(`keyword search with modifier "${modifiers.join('|')}" is not supported`);
      tests.push(keywordPredicate(values, modifiers.includes('all')));
      continue;
    }
    const field = options.fieldMap?.get(fieldName!) ?? fieldName!;
    let test: FieldTest;
    try {
      test = compileFieldTest(modifiers, values, options.placeholders, (f) => options.fieldMap?.get(f) ?? f);
    } catch (e) {
      if (e instanceof RuleError) throw new RuleError(`${key}: ${e.message}`, [key]);
      throw e;
    }
    tests.push((e) => test(e.get(field), e));
  }
  if (tests.length === 0) return () => false;
  return tests.length === 1 ? tests[0]! : (e) => tests.every((t) => t(e));
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
  if (!isObj(detection)) return undefined;
  const { condition, ...searches } = detection;
  const ids = Object.keys(searches).filter((k) => k !== 'timeframe');
  const bySearch = new Map(ids.map((id) => [id, searchLiterals(searches[id], options)]));
  const conds = (Array.isArray(condition) ? condition : [condition]).map((c): Literals => {
    try {
      return conditionLiterals(parseCondition(String(c)), bySearch, ids);
    } catch {
      return undefined;
    }
  });
  return union(conds);
}

function conditionLiterals(c: Condition, bySearch: Map<string, Literals>, ids: string[]): Literals {
  switch (c.op) {
    case 'id': return bySearch.get(c.name);
    case 'not': return undefined;
    case 'and': return c.args.map((a) => conditionLiterals(a, bySearch, ids)).reduce(stronger, undefined);
    case 'or': return union(c.args.map((a) => conditionLiterals(a, bySearch, ids)));
    case 'of': {
      const sets = identifiersFor(c.pattern, ids).map((n) => bySearch.get(n));
      return c.count === 'all' ? sets.reduce(stronger, undefined) : union(sets);
    }
  }
}

function searchLiterals(search: unknown, options: CompileOptions): Literals {
  if (isObj(search)) return mapLiterals(search, options);
  if (Array.isArray(search)) {
    if (search.every(isObj)) return union(search.map((m) => mapLiterals(m as Obj, options)));
    return union(search.map((v) => keywordLiteral(v)));
  }
  return keywordLiteral(search);
}

function keywordLiteral(v: unknown): Literals {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const lit = longestLiteral(SigmaString.parse(String(v)));
  return lit ? [lit] : undefined;
}

function mapLiterals(map: Obj, options: CompileOptions): Literals {
  let best: Literals;
  for (const [key, raw] of Object.entries(map)) {
    const [field, ...modifiers] = key.split('|');
    const values = Array.isArray(raw) ? raw : [raw];
    let lits: Literals;
    if (field === '') {
      const each = values.map((v) => keywordLiteral(v));
      lits = modifiers.includes('all') ? each.reduce(stronger, undefined) : union(each);
    } else {
      let f: ReturnType<typeof fieldLiterals>;
      try {
        f = fieldLiterals(modifiers, values, options.placeholders);
      } catch {
        f = undefined;
      }
      if (f) lits = f.all ? f.perValue.map((x): Literals => x).reduce(stronger, undefined) : union(f.perValue);
    }
    best = stronger(best, lits);
  }
  return best;
}

/** The event fields a detection tests (named as the event names them), for showing what a detection matched on. */
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
