import type { HuntRecord } from '../report/hunt-output.js';

/**
 * Searching a case's detections, whole events included, with SQLite's full-text index (FTS5): a
 * detection is indexed as two texts, its values (`text`: every value of the rule, place, matched
 * values and event) and its values by field (`fields`: each word of a value prefixed by its field's
 * name, `commandline__whoami`), so `whoami`, `104.140.114.110` and `CommandLine:whoami` are each one
 * index lookup. Words are what SQLite's unicode61 tokenizer makes them: runs of letters, digits and _,
 * case and diacritics folded, the same on both sides.
 */

/** The index's declaration: contentless (the detections hold the text), rows deletable with their generation. */
export const SEARCH_TABLE = `CREATE VIRTUAL TABLE IF NOT EXISTS detection_search USING fts5(text, fields, content='', contentless_delete=1, tokenize="unicode61 tokenchars '_'")`;

const WORD = /[\p{L}\p{N}_]+/gu;
/** A field's name as one word: its letters, digits and _, lower-cased (`c-ip` is `cip`). */
const fieldWord = (name: string) => (name.match(WORD) ?? []).join('').toLowerCase();

/** Names under which a record's own parts are searched, beside the event's fields. */
const RECORD_FIELDS: [string, (d: HuntRecord) => unknown][] = [
  ['rule', (d) => d.rule.title],
  ['ruleid', (d) => d.rule.id],
  ['level', (d) => d.rule.level],
  ['technique', (d) => d.rule.techniques],
  ['tag', (d) => d.rule.tags],
  ['host', (d) => d.computer],
  ['channel', (d) => d.channel],
  ['eventid', (d) => d.event_id],
  ['file', (d) => d.file],
];

/** Walks a value's leaves (depth-bounded: events are bounded by their readers), with the key each sits under. */
function leaves(v: unknown, key: string, out: (key: string, text: string) => void, depth = 0): void {
  if (v === null || v === undefined || depth > 64) return;
  if (typeof v === 'string') return void (v && out(key, v));
  if (typeof v === 'number' || typeof v === 'boolean') return void out(key, String(v));
  if (Array.isArray(v)) for (const x of v) leaves(x, key, out, depth + 1);
  else if (typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) leaves(x, k === '#text' || k === '#attributes' ? key : k, out, depth + 1);
}

/**
 * Between two values: a word no search has (a private-use character, a word character to the
 * tokenizer), so that a phrase cannot run from the end of one value into the start of the next.
 */
const BETWEEN = ' \uE000 ';

/** The two texts a detection is indexed by. */
export function searchTexts(d: HuntRecord): { text: string; fields: string } {
  const text: string[] = [];
  const fields: string[] = [];
  const add = (key: string, value: string) => {
    text.push(value);
    const f = fieldWord(key);
    // Words of one value stay together (phrases match across them), values apart.
    if (f) fields.push((value.match(WORD) ?? []).map((w) => `${f}__${w}`).join(' '));
  };
  for (const [name, get] of RECORD_FIELDS) leaves(get(d), name, add);
  leaves(d.matched, '', add);
  leaves(d.event, '', add);
  return { text: text.join(BETWEEN), fields: fields.join(BETWEEN) };
}

/** One part of a search: words to find together, in a field or anywhere; the last may be a prefix (`whoam*`). */
export interface SearchTerm {
  field?: string;
  words: string[];
  prefix: boolean;
}

export class SearchError extends Error {}

/**
 * Parses what an analyst types: words, "quoted phrases", field:value and field:"a phrase"; every
 * term must hold (AND). A value's words must stand together, in order, as in `cmd.exe /c whoami`.
 */
export function parseSearch(q: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  const re = /(?:([^\s:"]+):)?(?:"([^"]*)"?|(\S+))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(q))) {
    const raw = m[2] ?? m[3] ?? '';
    const words = raw.match(WORD) ?? [];
    if (!words.length) continue;
    const field = m[1] === undefined ? undefined : fieldWord(m[1]);
    if (m[1] !== undefined && !field) throw new SearchError(`search: "${m[1]}:" is not a field name`);
    terms.push({ ...(field ? { field } : {}), words, prefix: m[2] === undefined && raw.endsWith('*') });
    if (terms.length > 32) throw new SearchError('search: more than 32 terms');
  }
  return terms;
}

/** The FTS5 query of parsed terms (every word quoted: nothing the analyst types is FTS syntax). */
export function matchQuery(terms: readonly SearchTerm[]): string {
  return terms
    .map((t) => {
      const words = t.field ? t.words.map((w) => `${t.field}__${w}`) : t.words;
      return `{${t.field ? 'fields' : 'text'}}: "${words.join(' ').replace(/"/g, '""')}"${t.prefix ? ' *' : ''}`;
    })
    .join(' AND ');
}
