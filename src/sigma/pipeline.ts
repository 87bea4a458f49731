import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parsedOnce } from '../common/parsed-cache.js';
import { yaml } from '../common/yaml.js';
import type { Event } from '../evidence/event.js';
import { lower } from './fold.js';
import { valueText } from './modifiers.js';
import type { LogSource } from './rule.js';

/**
 * A processing pipeline as data, in the spirit of pySigma's: which events a rule's logsource stands
 * for (conditions on fields such as Channel and EventID) and how its field names map to the events'.
 */
export interface Pipeline {
  name: string;
  logsources: PipelineSource[];
  placeholders: Map<string, string[]>;
  /** A digest of the pipeline's text: what was learnt compiling rules against it holds while it is unchanged. */
  fingerprint: string;
}

export interface PipelineSource {
  logsource: LogSource;
  /** Each field must have one of the listed values (compared case-insensitively). */
  conditions: Map<string, string[]>;
  fields: Map<string, string>;
  /** Lower-cased channels and event ids the conditions name (undefined: any), for a rule index. */
  channels: ReadonlySet<string> | undefined;
  eventIds: ReadonlySet<string> | undefined;
  /**
   * Whether an event meets the conditions; or all but Channel and EventID (which an index has
   * checked). Made with the source, so that the thousands of rules of a few dozen sources share them.
   */
  belongs: (e: Event) => boolean;
  belongsBesidesIndex: (e: Event) => boolean;
}

export class PipelineError extends Error {}

export const DEFAULT_PIPELINE = new URL('../../../pipelines/windows.yml', import.meta.url);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Defender for Endpoint's device tables, added to the default pipeline when the input holds them. */
export const DEFENDER_PIPELINE = new URL('../../../pipelines/defender-endpoint.yml', import.meta.url);

/** Pipelines given as several files: their log sources and placeholders in order, one fingerprint for all. */
export function loadPipelines(paths: readonly (string | URL)[]): Pipeline {
  const parts = paths.map((p) => loadPipeline(p));
  if (parts.length === 1) return parts[0]!;
  const placeholders = new Map<string, string[]>();
  for (const p of parts) for (const [k, v] of p.placeholders) placeholders.set(k, v);
  return {
    name: parts.map((p) => p.name).join(' + '),
    logsources: parts.flatMap((p) => p.logsources),
    placeholders,
    fingerprint: createHash('sha256').update(parts.map((p) => p.fingerprint).join('\n')).digest('hex'),
  };
}

export function loadPipeline(path: string | URL): Pipeline {
  let doc: unknown;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
    doc = parsedOnce('pipelines', text, (t) => yaml().parse(t));
  } catch (e) {
    throw new PipelineError(`${path}: ${(e as Error).message}`);
  }
  if (!isObj(doc) || !Array.isArray(doc.logsources)) throw new PipelineError(`${path}: a pipeline needs a "logsources" list`);
  const logsources = doc.logsources.map((entry, i): PipelineSource => {
    if (!isObj(entry) || !isObj(entry.logsource)) throw new PipelineError(`${path}: logsources[${i}] needs a "logsource" map`);
    const conditions = new Map<string, string[]>();
    for (const [k, v] of Object.entries(isObj(entry.conditions) ? entry.conditions : {})) {
      conditions.set(k, (Array.isArray(v) ? v : [v]).map((x) => String(x).toLowerCase()));
    }
    const fields = new Map<string, string>(Object.entries(isObj(entry.fields) ? entry.fields : {}).map(([k, v]) => [k, String(v)]));
    const set = (values: string[] | undefined) => (values ? new Set(values) : undefined);
    return {
      logsource: entry.logsource as LogSource,
      conditions,
      fields,
      channels: set(conditions.get('Channel')),
      eventIds: set(conditions.get('EventID')),
      belongs: conditionsTest(conditions),
      belongsBesidesIndex: conditionsTest(conditions, ['Channel', 'EventID']),
    };
  });
  const placeholders = new Map<string, string[]>();
  for (const [k, v] of Object.entries(isObj(doc.placeholders) ? doc.placeholders : {})) placeholders.set(k, (Array.isArray(v) ? v : [v]).map(String));
  return { name: String(doc.name ?? path), logsources, placeholders, fingerprint: createHash('sha256').update(text).digest('hex') };
}

const KEYS = ['product', 'category', 'service'] as const;

/**
 * The pipeline entries a rule's logsource stands for: every key the entry names must equal the
 * rule's (a rule naming no product fits any), and the rule's category and service must be named by
 * the entry (so that a rule for one category is not run on all of a product's events).
 */
export function sourcesFor(pipeline: Pipeline, logsource: LogSource): readonly PipelineSource[] {
  const norm = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : undefined);
  const have = KEYS.map((k) => norm(logsource[k]));
  // Thousands of rules share a few dozen log sources: each is matched against the pipeline once.
  let known = sourcesByLogsource.get(pipeline);
  if (!known) sourcesByLogsource.set(pipeline, (known = new Map()));
  const key = JSON.stringify(have);
  let sources = known.get(key);
  if (!sources) {
    sources = pipeline.logsources.filter((s) =>
      KEYS.every((k, i) => {
        const want = norm(s.logsource[k]);
        // A rule without a product (antivirus, say) is for any product, this one included.
        if (want !== undefined) return want === have[i] || (k === 'product' && have[i] === undefined);
        return k === 'product' || have[i] === undefined;
      }));
    known.set(key, sources);
  }
  return sources;
}

const sourcesByLogsource = new WeakMap<Pipeline, Map<string, readonly PipelineSource[]>>();

/** Whether an event meets a source's conditions; `except` leaves out fields checked elsewhere (an index). */
function conditionsTest(conditions: ReadonlyMap<string, string[]>, except: readonly string[] = []): (e: Event) => boolean {
  const checks = [...conditions].filter(([field]) => !except.includes(field)).map(([field, allowed]) => {
    const set = new Set(allowed);
    return (e: Event) => {
      const t = valueText(e.get(field));
      return t !== undefined && set.has(lower(t));
    };
  });
  if (checks.length === 0) return () => true;
  return (e) => checks.every((c) => c(e));
}
