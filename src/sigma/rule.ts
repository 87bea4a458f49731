import { readFileSync } from 'node:fs';
import type { LineCounter, YAMLMap } from 'yaml';
import { yaml } from '../common/yaml.js';

/** A Sigma rule's logsource. */
export interface LogSource {
  product?: string;
  category?: string;
  service?: string;
  definition?: string;
}

/** A Sigma detection rule as written (before compilation). */
export interface SigmaRule {
  id?: string;
  /** A name other rules' correlations may refer to this rule by. */
  name?: string;
  title: string;
  status?: string;
  level?: string;
  description?: string;
  author?: string;
  date?: string;
  tags: string[];
  references: string[];
  falsepositives: string[];
  fields: string[];
  related: { id: string; type: string }[];
  logsource: LogSource;
  detection: Record<string, unknown>;
  /** Correlation rules and filters are documents of their own kinds. */
  kind: 'detection' | 'correlation' | 'filter';
  /** The `correlation` section of a correlation rule. */
  correlation?: Record<string, unknown>;
  /** The `filter` section of a filter document (rules it applies to, selections, condition). */
  filter?: Record<string, unknown>;
  file: string;
  /** 1-based line where the rule's document starts, and where its detection starts. */
  line: number;
  detectionLine: number;
  /** Lines of the detection's keys: "search" and "search/field|modifiers". */
  keyLines: Map<string, number>;
}

/** A document that is not a usable rule, by file and line, with the reason. */
export interface RuleProblem {
  file: string;
  line: number;
  id?: string;
  title?: string;
  reason: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)]);

/** Deep merge for rule collections: the later document's keys win, maps merge. */
function merge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? merge(out[k] as Obj, v) : v;
  return out;
}

/**
 * Reads one rule file: one or more YAML documents, with rule collections (`action: global` applies
 * to the documents after it, `repeat` reuses the previous document, `reset` clears the global one).
 */
export function readRuleFile(file: string): { rules: SigmaRule[]; problems: RuleProblem[] } {
  const rules: SigmaRule[] = [];
  const problems: RuleProblem[] = [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push({ file, line: 0, reason: `cannot read: ${(e as Error).message}` });
    return { rules, problems };
  }
  const { LineCounter: Lines, parseAllDocuments, isMap } = yaml();
  const lines = new Lines();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false });
  if (!Array.isArray(docs)) return { rules, problems };
  let global: Obj = {};
  let previous: Obj | undefined;
  for (const doc of docs) {
    const line = lines.linePos(doc.range[0]).line;
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      problems.push({ file, line: err.linePos?.[0].line ?? line, reason: `invalid YAML: ${err.message.split('\n')[0]}` });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // Aliases that expand past the bound (a "billion laughs"), or nesting too deep to build.
      problems.push({ file, line, reason: `invalid YAML: ${(e as Error).message}` });
      continue;
    }
    if (value === null || value === undefined) continue;
    if (!isObj(value)) {
      problems.push({ file, line, reason: 'a rule must be a YAML map' });
      continue;
    }
    const action = value.action;
    if (action === 'global') {
      const { action: _a, ...rest } = value;
      global = rest;
      continue;
    }
    if (action === 'reset') {
      global = {};
      continue;
    }
    let merged = merge(global, value);
    if (action === 'repeat') {
      const { action: _a, ...rest } = value;
      if (!previous) {
        problems.push({ file, line, reason: '"action: repeat" without a document before it' });
        continue;
      }
      merged = merge(previous, rest);
    }
    previous = merged;
    const contents = doc.contents;
    const detectionLine = isMap(contents) ? keyLine(contents, 'detection', lines) ?? line : line;
    const r = toRule(merged, file, line, detectionLine);
    if (typeof r !== 'string' && isMap(contents)) r.keyLines = detectionKeyLines(contents, lines);
    if (typeof r === 'string') problems.push({ file, line, id: str(merged.id), title: str(merged.title), reason: r });
    else rules.push(r);
  }
  return { rules, problems };
}

function keyLine(map: YAMLMap, key: string, lines: LineCounter): number | undefined {
  for (const item of map.items) {
    const k = item.key as { value?: unknown; range?: [number, number, number] } | null;
    if (k?.value === key && k.range) return lines.linePos(k.range[0]).line;
  }
  return undefined;
}

/** Lines of a rule document's detection keys, two levels deep (searches and their fields). */
function detectionKeyLines(doc: YAMLMap, lines: LineCounter): Map<string, number> {
  const { isMap, isSeq } = yaml();
  const out = new Map<string, number>();
  const detection = doc.items.find((i) => (i.key as { value?: unknown } | null)?.value === 'detection')?.value;
  if (!isMap(detection)) return out;
  const lineOf = (node: unknown) => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  for (const item of detection.items) {
    const id = String((item.key as { value?: unknown } | null)?.value);
    const l = lineOf(item.key);
    if (l) out.set(id, l);
    const maps = isMap(item.value) ? [item.value] : isSeq(item.value) ? item.value.items.filter(isMap) : [];
    for (const m of maps) {
      for (const field of (m as YAMLMap).items) {
        const fl = lineOf(field.key);
        const key = `${id}/${String((field.key as { value?: unknown } | null)?.value)}`;
        if (fl && !out.has(key)) out.set(key, fl);
      }
    }
  }
  return out;
}

const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));

function toRule(d: Obj, file: string, line: number, detectionLine: number): SigmaRule | string {
  const kind = isObj(d.correlation) ? 'correlation' : isObj(d.filter) ? 'filter' : 'detection';
  if (typeof d.title !== 'string' || !d.title) return 'missing "title"';
  if (kind === 'detection') {
    if (!isObj(d.logsource)) return 'missing "logsource"';
    if (!isObj(d.detection)) return 'missing "detection"';
  }
  return {
    id: str(d.id),
    name: str(d.name),
    title: d.title,
    status: str(d.status),
    level: str(d.level),
    description: str(d.description),
    author: str(d.author),
    date: str(d.date),
    tags: strings(d.tags),
    references: strings(d.references),
    falsepositives: strings(d.falsepositives),
    fields: strings(d.fields),
    related: Array.isArray(d.related) ? d.related.filter(isObj).map((r) => ({ id: String(r.id), type: String(r.type) })) : [],
    logsource: (isObj(d.logsource) ? d.logsource : {}) as LogSource,
    detection: (isObj(d.detection) ? d.detection : {}) as Record<string, unknown>,
    kind,
    correlation: isObj(d.correlation) ? d.correlation : undefined,
    filter: isObj(d.filter) ? d.filter : undefined,
    file,
    line,
    detectionLine,
    keyLines: new Map(),
  };
}
