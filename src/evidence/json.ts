import { readFileSync } from 'node:fs';

/**
 * Reads JSON events: one object per line (JSONL), a JSON array, or objects one after another
 * (pretty-printed, as SigmaHQ's regression `.json` files are). Problems are reported by line.
 */
export function readJsonEvents(file: string, onError: (line: number, message: string) => void): unknown[] {
  const text = readFileSync(file, 'utf8');
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    try {
      const all = JSON.parse(text) as unknown;
      if (Array.isArray(all)) return all;
    } catch (e) {
      onError(1, `invalid JSON: ${(e as Error).message}`);
      return [];
    }
  }
  return parseConcatenatedJson(text, onError);
}

/** Splits text holding JSON values one after another into values. */
export function parseConcatenatedJson(text: string, onError?: (line: number, message: string) => void): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let line = 1;
  let startLine = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') line++;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') {
      if (depth++ === 0) {
        start = i;
        startLine = line;
      }
    } else if (ch === '}' || ch === ']') {
      if (--depth === 0) {
        try {
          out.push(JSON.parse(text.slice(start, i + 1)));
        } catch (e) {
          onError?.(startLine, `invalid JSON: ${(e as Error).message}`);
        }
      }
      if (depth < 0) depth = 0;
    }
  }
  if (depth > 0) onError?.(startLine, 'the last JSON value is not closed');
  return out;
}
