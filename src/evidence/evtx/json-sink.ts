import { decodeValue, type EventValue, valueToText } from './values.js';
import { type BinXmlSink, entityText, type ResolvedAttribute } from './walk.js';

/** A JSON object in evtx_dump's shape. */
export interface EventObject { [key: string]: EventNode }
export type EventNode = EventValue | EventObject;

interface Frame {
  container: EventObject;
  key: string;
  /** For a <Data> without a Name attribute: the shared `Data.#text` list its values go to. */
  unnamed: EventValue[] | undefined;
  /** Whether this unnamed <Data> already added a value (further text joins it). */
  added: boolean;
}

const ATTRIBUTES = '#attributes';
const TEXT = '#text';

/**
 * Builds the evtx_dump (Rust evtx crate) JSON model of a record:
 * - an element without attributes is its value (`"EventID": 4624`), or null when empty;
 * - an element with attributes is `{"#attributes": {...}, "#text": value}`;
 * - `<Data Name="X">v</Data>` becomes `"X": v`; `<Data>` without a name collects into `"Data": {"#text": [...]}`;
 * - a repeated name keeps the last element under the name and moves earlier ones to `name_1`, `name_2`, …;
 * - values keep their types (numbers, booleans, strings; hex integers as "0x…" strings).
 */
export class JsonSink implements BinXmlSink {
  readonly root: EventObject = {};
  private readonly stack: Frame[] = [];

  constructor(private readonly buf: Buffer) {}

  open(name: string, attrs: readonly ResolvedAttribute[]): void {
    const container = this.currentContainer();
    if (name === 'Data') {
      const nameAttr = attrs.find((a) => a.name === 'Name');
      if (nameAttr) {
        this.insert(container, valueToText(this.attrValue(nameAttr)), null);
        return;
      }
      const list = unnamedDataList(container);
      if (list) {
        this.stack.push({ container, key: 'Data', unnamed: list, added: false });
        return;
      }
    }
    let attributes: EventObject | null = null;
    for (const a of attrs) {
      const v = this.attrValue(a);
      if (v === null) continue;
      (attributes ??= {})[a.name] = v;
    }
    this.insert(container, name, attributes ? { [ATTRIBUTES]: attributes } : null);
  }

  close(): void {
    this.stack.pop();
  }

  value(type: number, off: number, size: number): void {
    this.add(decodeValue(this.buf, type, off, size, 'json'));
  }

  valueText(type: number, off: number, size: number): string {
    return valueToText(decodeValue(this.buf, type, off, size, 'json'));
  }

  text(text: string): void {
    this.add(text);
  }

  entity(name: string): void {
    this.add(entityText(name));
  }

  charRef(code: number): void {
    this.add(String.fromCharCode(code));
  }

  cdata(text: string): void {
    this.add(text);
  }

  pi(): void {
    // evtx_dump has no JSON form for processing instructions.
  }

  private attrValue(a: ResolvedAttribute): EventValue {
    return a.text !== undefined ? a.text : decodeValue(this.buf, a.type, a.off, a.size, 'json');
  }

  private currentContainer(): EventObject {
    const top = this.stack[this.stack.length - 1];
    if (!top) return this.root;
    const current = top.container[top.key];
    if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
      return current as EventObject;
    }
    // An element that had no attributes (null) or only text gains children: it becomes an object.
    const obj: EventObject = current === null || current === undefined ? {} : { [TEXT]: current as EventValue };
    top.container[top.key] = obj;
    return obj;
  }

  private insert(container: EventObject, key: string, value: EventNode): void {
    const old = container[key];
    if (old !== undefined && !isPlaceholder(old)) {
      let n = 1;
      while (container[`${key}_${n}`] !== undefined) n++;
      container[`${key}_${n}`] = old;
    }
    container[key] = value;
    this.stack.push({ container, key, unnamed: undefined, added: false });
  }

  private add(v: EventValue): void {
    if (v === null) return;
    const top = this.stack[this.stack.length - 1];
    if (!top) return;
    const list = top.unnamed;
    if (list) {
      // An array substitution stands for one <Data> per item.
      if (Array.isArray(v)) list.push(...v);
      else if (top.added) list[list.length - 1] = concat(list[list.length - 1]!, v);
      else list.push(v);
      top.added = true;
      return;
    }
    const current = top.container[top.key];
    if (current === null || current === undefined) top.container[top.key] = v;
    else if (typeof current === 'object' && !Array.isArray(current)) {
      const obj = current as EventObject;
      obj[TEXT] = obj[TEXT] === undefined ? v : concat(obj[TEXT] as EventValue, v);
    } else top.container[top.key] = concat(current as EventValue, v);
  }
}

/** The shared `Data.#text` list of a container, created when absent; undefined if `Data` holds something else. */
function unnamedDataList(container: EventObject): EventValue[] | undefined {
  const existing = container.Data;
  if (existing === undefined || existing === null) {
    const list: EventValue[] = [];
    container.Data = { [TEXT]: list };
    return list;
  }
  if (typeof existing === 'object' && !Array.isArray(existing)) {
    const t = (existing as EventObject)[TEXT];
    if (Array.isArray(t) && Object.keys(existing).length === 1) return t;
  }
  return undefined;
}

function isPlaceholder(v: EventNode): boolean {
  if (v === null) return true;
  return typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0;
}

/** Several text parts of one element join as text, as evtx_dump does. */
function concat(a: EventValue, b: EventValue): EventValue {
  return valueToText(a) + valueToText(b);
}
