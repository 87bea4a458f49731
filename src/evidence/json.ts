import { readHead } from '../common/read-head.js';
import { type ByteRange, readTextBlocks } from './text-blocks.js';

/** A JSON value larger than this is reported and skipped: no single event is that big. */
export const MAX_JSON_VALUE_BYTES = 64 * 1024 * 1024;
/** Nor this deep: what reads an event walks it by recursion, which a hostile file could overflow. */
export const MAX_JSON_DEPTH = 100;

/**
 * Reads the JSON values of a file one at a time, a block at a time: one object per line (JSONL),
 * objects one after another (pretty-printed, as SigmaHQ's regression `.json` files are), or a
 * top-level array, whose items come one by one. Memory holds one value, never the file. Problems are
 * reported by line and the reading goes on with the next value (in JSON Lines, with the next line: a
 * value cut short there is named and does not swallow the lines after it).
 */
export function* readJsonValues(file: string, onError: (line: number, message: string) => void, maxValueBytes = MAX_JSON_VALUE_BYTES, range?: ByteRange): Generator<unknown> {
  for (const entry of readJsonEntries(file, onError, maxValueBytes, range)) yield entry.value;
}

/** A JSON value and the line it starts on (counted from the first line read: the range's, when there is one). */
export interface JsonEntry {
  value: unknown;
  line: number;
}

/** `readJsonValues` with each value's line, and, once done, how many lines were read. */
export function* readJsonEntries(file: string, onError: (line: number, message: string) => void, maxValueBytes = MAX_JSON_VALUE_BYTES, range?: ByteRange, jsonLines = false): Generator<JsonEntry, number> {
  const scanner = new JsonScanner(onError, maxValueBytes, MAX_JSON_DEPTH, jsonLines);
  for (const text of readTextBlocks(file, range)) for (const value of scanner.push(text)) yield { value, line: scanner.valueLine };
  scanner.finish();
  return scanner.linesRead;
}

/** Finds where JSON values start and end in text that arrives in pieces. */
class JsonScanner {
  private depth = 0;
  /** The deepest nesting of the value being read. */
  private deepest = 0;
  private inString = false;
  private escaped = false;
  /** Text of the value being read; `skipping` once it grew past the bound. */
  private parts: string[] = [];
  private size = 0;
  private skipping = false;
  private line = 1;
  private startLine = 1;
  /** The line the value last given starts on. */
  valueLine = 1;
  private first = true;
  /** Inside a top-level array: its items are the values. */
  private inArray = false;

  constructor(
    private readonly onError: (line: number, message: string) => void,
    private readonly max: number,
    private readonly maxDepth = MAX_JSON_DEPTH,
    /** One value per line: a line's end ends any value left open on it. */
    private readonly jsonLines = false,
  ) {}

  *push(text: string): Generator<unknown> {
    let start = this.depth > 0 ? 0 : -1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) {
        if (this.jsonLines && this.depth > 0) {
          this.onError(this.startLine, 'a JSON value not closed on its line; skipped');
          this.depth = 0;
          this.deepest = 0;
          this.inString = false;
          this.escaped = false;
          this.parts = [];
          this.size = 0;
          this.skipping = false;
          start = -1;
        }
        this.line++;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92) this.escaped = true;
        else if (c === 34) this.inString = false;
        continue;
      }
      if (c === 34) {
        this.inString = true;
        if (this.depth === 0) this.unexpected('a string outside any object');
      } else if (c === 123 || c === 91) {
        if (this.depth === 0 && this.first && c === 91 && !this.inArray) {
          this.inArray = true; // the file is one array: read its items
          this.first = false;
          continue;
        }
        this.first = false;
        if (this.depth++ === 0) {
          start = i;
          this.startLine = this.line;
        }
        if (this.depth > this.deepest) this.deepest = this.depth;
      } else if (c === 125 || c === 93) {
        if (this.depth === 0) {
          if (c === 93 && this.inArray) this.inArray = false;
          else this.unexpected(`an unmatched "${String.fromCharCode(c)}"`);
          continue;
        }
        if (--this.depth === 0) {
          const piece = text.slice(start, i + 1);
          const value = this.complete(piece);
          start = -1;
          this.valueLine = this.startLine;
          if (value !== undefined) yield value;
        }
      }
    }
    if (this.depth > 0 && start >= 0) this.keep(text.slice(start));
  }

  private keep(piece: string): void {
    if (this.skipping) return;
    this.size += piece.length;
    if (this.size > this.max) {
      this.onError(this.startLine, `a JSON value larger than ${this.max} bytes; skipped`);
      this.skipping = true;
      this.parts = [];
      return;
    }
    this.parts.push(piece);
  }

  private complete(last: string): unknown {
    const skipped = this.skipping;
    const text = this.parts.length ? this.parts.join('') + last : last;
    const deepest = this.deepest;
    this.parts = [];
    this.size = 0;
    this.skipping = false;
    this.deepest = 0;
    if (deepest > this.maxDepth && !skipped) {
      this.onError(this.startLine, `a JSON value nested ${deepest} levels deep (at most ${this.maxDepth} are read); skipped`);
      return undefined;
    }
    if (skipped || text.length > this.max) {
      if (!skipped) this.onError(this.startLine, `a JSON value larger than ${this.max} bytes; skipped`);
      return undefined;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      this.onError(this.startLine, `invalid JSON: ${(e as Error).message}`);
      return undefined;
    }
  }

  private unexpected(what: string): void {
    this.onError(this.line, `${what}; skipped`);
  }

  finish(): void {
    if (this.depth > 0) this.onError(this.startLine, 'the last JSON value is not closed');
  }

  /** Whole lines read so far (line ends seen): where the next part of a cut file starts counting. */
  get linesRead(): number {
    return this.line - 1;
  }
}

/**
 * Whether a JSON file holds one value per line (JSON Lines), which can be cut at any line: each of its
 * first lines (up to 20; the head's last, perhaps cut, aside) starts with `{` and one at least is a
 * whole JSON object (a broken first line does not make the rest one value). A pretty-printed document
 * or an array is read whole.
 */
export function isJsonLines(file: string): boolean {
  const head = readHead(file, 256 * 1024);
  if (!head) return false;
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const lines = text.split('\n');
  if (lines.length < 2) return false;
  const whole = lines.slice(0, Math.min(lines.length - 1, 20)).map((l) => l.trim()).filter(Boolean);
  if (!whole.length || !whole.every((l) => l.startsWith('{'))) return false;
  return whole.some((l) => {
    try {
      JSON.parse(l);
      return true;
    } catch {
      return false;
    }
  });
}

/** Splits text holding JSON values one after another into values (whole texts already in memory, e.g. test fixtures). */
export function parseConcatenatedJson(text: string, onError?: (line: number, message: string) => void, maxDepth = MAX_JSON_DEPTH): unknown[] {
  const scanner = new JsonScanner(onError ?? (() => {}), MAX_JSON_VALUE_BYTES, maxDepth);
  const out = [...scanner.push(text)];
  scanner.finish();
  return out;
}
