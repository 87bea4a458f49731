import { decodeValue, type EventValue, valueToText } from './values.js';
import { type BinXmlSink, entityText, type ResolvedAttribute } from './walk.js';

/**
 * Where a value goes, which decides what an empty one becomes: the whole content of a plain element
 * (`plain`: '' leaves it null), text of an element that is an object (`text`: '' adds no `#text`),
 * a named Data (`data`) or an item of unnamed Data (`item`), both keeping '', or an attribute.
 */
export type ValuePlace = 'plain' | 'text' | 'data' | 'item' | 'attribute';

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
  /** An element other than <Data>: an empty string is no value (it stays null), as evtx_dump has it. */
  plain: boolean;
}

const ATTRIBUTES = '#attributes';
const TEXT = '#text';

/**
 * Builds the evtx_dump (Rust evtx crate) JSON model of a record:
 * - an element without attributes is its value (`"EventID": 4624`), or null when empty (an empty
 *   string included);
 * - an element with attributes is `{"#attributes": {...}, "#text": value}`;
 * - `<Data Name="X">v</Data>` becomes `"X": v` ("" stays ""; a name given twice keeps its first place
 *   and its last value); each `<Data>` without a name is one item of `"Data": {"#text": [...]}` ("" when
 *   empty), or `"Data": {"#text": item}` when it is the only one;
 * - a repeated element name keeps the first under the name and gives later ones `name_1`, `name_2`, …;
 * - values keep their types (numbers, booleans, strings; hex integers as "0x…" strings);
 * - an element whose content is an optional substitution with no value is kept (empty), as evtx_dump
 *   and python-evtx keep it; the XML renderer leaves it out, as Event Viewer and libevtx do.
 */
export class JsonSink implements BinXmlSink {
  readonly root: EventObject = {};
  readonly keepsEmptyOptional = true;
  private readonly stack: Frame[] = [];

  constructor(private readonly buf: Buffer) {}

  open(name: string, attrs: readonly ResolvedAttribute[]): void {
    const container = this.currentContainer();
    if (name === 'Data') {
      const nameAttr = attrs.find((a) => a.name === 'Name');
      if (nameAttr) {
        // A name given twice (4648's two LogonGuid) is one key: its first place, its last value.
        const key = valueToText(this.attrValue(nameAttr));
        container[key] = null;
        this.stack.push({ container, key, unnamed: undefined, added: false, plain: false });
        return;
      }
      const list = unnamedDataList(container);
      if (list) {
        this.stack.push({ container, key: 'Data', unnamed: list, added: false, plain: false });
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
    const f = this.stack.pop()!;
    // Each unnamed <Data> is one item, an empty one too.
    if (f.unnamed && !f.added) f.unnamed.push('');
    const node = f.unnamed ? undefined : f.container[f.key];
    if (node !== null && typeof node === 'object' && !Array.isArray(node)) singleDataItem(node as EventObject);
  }

  value(type: number, off: number, size: number, slot: number): void {
    const top = this.stack[this.stack.length - 1];
    const current = top && !top.unnamed ? top.container[top.key] : undefined;
    const within: ValuePlace = !top || top.unnamed ? 'item' : !top.plain ? 'data' : current !== null && current !== undefined ? 'text' : 'plain';
    this.add(this.decode(type, off, size, slot, within));
  }

  valueText(type: number, off: number, size: number): string {
    return valueToText(decodeValue(this.buf, type, off, size, 'json'));
  }

  /** A substitution value as the model holds it; `within` says where it goes (a subclass may stand in something else, see field-shape.ts). */
  protected decode(type: number, off: number, size: number, _slot: number, _within: ValuePlace): EventValue {
    return decodeValue(this.buf, type, off, size, 'json');
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
    return a.text !== undefined ? a.text : this.decode(a.type, a.off, a.size, a.slot, 'attribute');
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
    // A repeated name: the first keeps it, later ones are name_1, name_2, … in document order.
    let name = key;
    for (let n = 1; container[name] !== undefined; n++) name = `${key}_${n}`;
    container[name] = value;
    this.stack.push({ container, key: name, unnamed: undefined, added: false, plain: true });
  }

  private add(v: EventValue): void {
    if (v === null) return;
    const top = this.stack[this.stack.length - 1];
    if (!top) return;
    if (v === '' && top.plain) return;
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

/** The items of an element's unnamed <Data>, once it is complete: one item is the text itself, not a list. */
function singleDataItem(node: EventObject): void {
  const data = node.Data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return;
  const items = (data as EventObject)[TEXT];
  if (Array.isArray(items) && items.length === 1 && Object.keys(data).length === 1) (data as EventObject)[TEXT] = items[0]!;
}

/** Several text parts of one element join as text, as evtx_dump does. */
function concat(a: EventValue, b: EventValue): EventValue {
  return valueToText(a) + valueToText(b);
}
