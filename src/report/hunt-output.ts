import { parseConcatenatedJson } from '../evidence/json.js';
import { type BoundedLine, readBoundedLines } from '../evidence/text-blocks.js';

/** A detection as `spoor hunt -f jsonl` writes it: what reports, STIX and the web UI read back. */
export interface HuntRecord {
  rule: { id: string | null; title: string; level: string | null; status?: string | null; tags: string[]; techniques: string[]; cves?: string[]; file?: string; description?: string | null };
  timestamp: string;
  file: string;
  record_id: string | number;
  /** The line the event starts on, for JSON and CSV evidence. */
  line?: number;
  computer: string;
  channel: string;
  event_id: string | number;
  matched: Record<string, unknown>;
  event?: unknown;
  correlation?: { group?: unknown; events?: unknown };
}

export class HuntOutputError extends Error {}

/** Longest line read back (a detection with its whole event); longer ones are reported, not read. */
export const MAX_LINE = 4 * 1024 * 1024;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const text = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** Deeper than any event a reader gives (their bound is 100 levels), far from what overflows the stack. */
const MAX_RECORD_DEPTH = 1000;

/** One JSONL line as a record; throws a HuntOutputError saying what is wrong with it. */
export function parseHuntRecord(line: string): HuntRecord {
  // Read by the evidence JSON reader, which bounds the nesting: outputs walk a record by recursion
  // (JSON.stringify among them), and a hostile depth would overflow the stack.
  let problem: string | undefined;
  const values = parseConcatenatedJson(line, (_, m) => (problem ??= m), MAX_RECORD_DEPTH);
  if (problem) throw new HuntOutputError(problem);
  if (values.length !== 1) throw new HuntOutputError(`not JSON (${values.length ? 'several values' : 'no object or array'} on the line)`);
  const doc = values[0];
  if (!isObj(doc) || !isObj(doc.rule) || typeof doc.rule.title !== 'string') throw new HuntOutputError("not a detection of spoor hunt's JSONL output (no rule.title)");
  const r = doc.rule;
  return {
    rule: {
      id: typeof r.id === 'string' ? r.id : null,
      title: r.title as string,
      level: typeof r.level === 'string' ? r.level : null,
      status: typeof r.status === 'string' ? r.status : null,
      tags: strings(r.tags),
      techniques: strings(r.techniques),
      cves: strings(r.cves),
      file: text(r.file),
      description: typeof r.description === 'string' ? r.description : null,
    },
    timestamp: text(doc.timestamp),
    file: text(doc.file),
    record_id: text(doc.record_id),
    ...(typeof doc.line === 'number' && Number.isSafeInteger(doc.line) && doc.line > 0 ? { line: doc.line } : {}),
    computer: text(doc.computer),
    channel: text(doc.channel),
    event_id: text(doc.event_id),
    matched: isObj(doc.matched) ? doc.matched : {},
    event: doc.event,
    ...(isObj(doc.correlation) ? { correlation: doc.correlation } : {}),
  };
}

/**
 * The detections of a hunt's JSONL file, one at a time (the file is streamed, never read whole, and
 * no line longer than MAX_LINE is held). A bad line is passed to `onError` with its number and skipped.
 */
export async function* readHuntOutput(file: string, onError: (message: string) => void): AsyncGenerator<HuntRecord> {
  yield* huntRecords(file, onError);
}

/** `readHuntOutput` for callers that read synchronously; throws a HuntOutputError when the file cannot be read. */
export function* huntRecords(file: string, onError: (message: string) => void): Generator<HuntRecord> {
  let lines: Generator<BoundedLine>;
  try {
    lines = readBoundedLines(file, MAX_LINE);
    for (;;) {
      const next = lines.next();
      if (next.done) return;
      const line = next.value;
      if ('tooLong' in line) {
        onError(`${file}:${line.lineNo}: line of ${line.tooLong} characters left out (longest read: ${MAX_LINE})`);
        continue;
      }
      if (!line.text.trim()) continue;
      try {
        yield parseHuntRecord(line.text);
      } catch (e) {
        if (!(e instanceof HuntOutputError)) throw e;
        onError(`${file}:${line.lineNo}: ${e.message}`);
      }
    }
  } catch (e) {
    if (e instanceof HuntOutputError || !(e instanceof Error) || !('code' in e)) throw e;
    throw new HuntOutputError(`${file}: ${e.message}`);
  }
}
