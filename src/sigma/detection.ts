import { type Condition, ConditionError, identifiersFor, parseCondition } from './condition.js';
import { RuleError } from './errors.js';

/**
 * A rule's `detection` read once, the way pySigma splits a rule from its backends: this module knows
 * what searches, field keys, keywords and conditions mean and how they nest; each backend (the
 * in-process predicate, the prefilter's literals, ClickHouse SQL) says only how to build its own
 * result from those parts.
 */
export interface DetectionBackend<T> {
  /** `field|modifier…: values`, the field already renamed by the pipeline. */
  field(field: string, modifiers: string[], values: unknown[]): T;
  /** Keywords: each value anywhere in the event; `all`: every value somewhere. */
  keywords(values: unknown[], all: boolean): T;
  and(parts: T[]): T;
  or(parts: T[]): T;
  not(part: T): T;
  /** At least n of the parts (n > 1). */
  atLeast(parts: T[], n: number): T;
  /** What an empty map is: it matches nothing. */
  never(): T;
}

export interface DetectionOptions {
  /** Renames rule fields to the event's fields (from a pipeline). */
  fieldMap?: ReadonlyMap<string, string>;
}

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Builds a backend's result for a whole detection: its search identifiers and its condition(s). */
export function buildDetection<T>(detection: unknown, backend: DetectionBackend<T>, options: DetectionOptions = {}): T {
  if (!isObj(detection)) throw new RuleError('detection must be a map');
  const { condition, ...searches } = detection;
  if (condition === undefined) throw new RuleError('detection has no condition');
  const ids = Object.keys(searches).filter((k) => k !== 'timeframe');
  const built = new Map<string, T>();
  for (const id of ids) {
    try {
      built.set(id, buildSearch(id, searches[id], backend, options));
    } catch (e) {
      if (e instanceof RuleError) throw new RuleError(e.message, [id, ...e.path]);
      throw e;
    }
  }
  const conditions = (Array.isArray(condition) ? condition : [condition]).map((c) => {
    if (typeof c !== 'string') throw new RuleError('condition must be a string');
    try {
      return buildCondition(parseCondition(c), built, ids, backend);
    } catch (e) {
      if (e instanceof ConditionError) throw new RuleError(`condition: ${e.message}`);
      throw e;
    }
  });
  return conditions.length === 1 ? conditions[0]! : backend.or(conditions);
}

function buildCondition<T>(c: Condition, searches: Map<string, T>, ids: string[], backend: DetectionBackend<T>): T {
  switch (c.op) {
    case 'id': {
      // A backend may build a search as undefined (the literals: "no text this search needs"): ask the map, not the value.
      if (!searches.has(c.name)) throw new RuleError(`condition names "${c.name}", which the detection does not define`);
      return searches.get(c.name) as T;
    }
    case 'not':
      return backend.not(buildCondition(c.arg, searches, ids, backend));
    case 'and':
      return backend.and(c.args.map((a) => buildCondition(a, searches, ids, backend)));
    case 'or':
      return backend.or(c.args.map((a) => buildCondition(a, searches, ids, backend)));
    case 'of': {
      const names = identifiersFor(c.pattern, ids);
      if (names.length === 0) throw new RuleError(`"${c.pattern}" matches no search identifier`);
      const parts = names.map((n) => searches.get(n)!);
      if (c.count === 'all') return backend.and(parts);
      return c.count === 1 ? backend.or(parts) : backend.atLeast(parts, c.count);
    }
  }
}

/** A search identifier: a map (AND of fields), a list of maps (OR), or a list of keywords (OR). */
function buildSearch<T>(id: string, search: unknown, backend: DetectionBackend<T>, options: DetectionOptions): T {
  if (isObj(search)) return buildMap(search, backend, options);
  if (Array.isArray(search)) {
    if (search.length === 0) throw new RuleError(`search "${id}" is an empty list`);
    if (search.every(isObj)) return backend.or(search.map((m) => buildMap(m as Obj, backend, options)));
    if (search.some(isObj)) throw new RuleError(`search "${id}" mixes maps and keywords`);
    return backend.keywords(search, false);
  }
  if (typeof search === 'string' || typeof search === 'number') return backend.keywords([search], false);
  throw new RuleError(`search "${id}" must be a map or a list`);
}

function buildMap<T>(map: Obj, backend: DetectionBackend<T>, options: DetectionOptions): T {
  const parts: T[] = [];
  for (const [key, raw] of Object.entries(map)) {
    const [fieldName, ...modifiers] = key.split('|');
    const values = Array.isArray(raw) ? raw : [raw];
    if (fieldName === '') {
      // Keywords with modifiers: '|all': [a, b] (the only modifier keyword searches take).
      if (modifiers.some((m) => m !== 'all')) throw new RuleError(`keyword search with modifier "${modifiers.join('|')}" is not supported`);
      parts.push(backend.keywords(values, modifiers.includes('all')));
      continue;
    }
    try {
      parts.push(backend.field(options.fieldMap?.get(fieldName!) ?? fieldName!, modifiers, values));
    } catch (e) {
      // The key says where: the rule's line for `spoor rules check`, the reason for `spoor sql`.
      if (e instanceof RuleError) throw new RuleError(`${key}: ${e.message}`, [key]);
      if (e instanceof Error) e.message = `${key}: ${e.message}`;
      throw e;
    }
  }
  return parts.length === 0 ? backend.never() : parts.length === 1 ? parts[0]! : backend.and(parts);
}
