import { decodeValue, type EventValue, mayBeEmpty, valueToText } from './values.js';
import { type BinXmlSink, entityText, type ResolvedAttribute } from './walk.js';

/** Thrown when a record needs the full object model (repeated names, mixed content). */
export class NeedsTree extends Error {}
const NEEDS_TREE = new NeedsTree('record needs the object model');

/** Thrown while recording a shape when the output depends on more than the values' types. */
export class NotAShape extends Error {}
const NOT_A_SHAPE = new NotAShape('output depends on value contents');

/** Marks where a value goes in a recorded shape; JSON text never holds a raw U+0001. */
export const SLOT_MARK = '\u0001';
/** Before a slot number: the value is an element's whole content, written null when it is empty text. */
export const NULL_IF_EMPTY = 'n';

const enum State { Deferred, Object, Scalar }

interface Frame {
  /** `"key":`, written when the element's value is known. */
  key: string;
  state: State;
  /** Text of the element, joined until the element closes. */
  pending: EventValue | undefined;
  /** Slot of the pending text: a value's index, -1 for fixed text, -2 when joined from values. */
  pendingSlot: number;
  /** Type of the pending value when it is one substitution value. */
  pendingType: number;
  /** Keys written in this object, to spot repeats. */
  keys: Set<string> | undefined;
  needsComma: boolean;
  /** This object's unnamed-<Data> items are being gathered (written as one `"Data"` key when complete). */
  groupOpen: boolean;
  /** The JSON text of each item so far. */
  groupItems: string[];
  /** This frame is an unnamed <Data> adding to its parent's group. */
  unnamed: boolean;
  added: boolean;
  /** An element other than <Data>: an empty string is no value, as evtx_dump has it. */
  plain: boolean;
}

/** JSON text for a value, as evtx_dump prints it (64-bit integers exact). */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal; most values need no escaping, which a regex test tells faster than JSON.stringify. */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

export function jsonValue(v: EventValue): string {
  switch (typeof v) {
    case 'string': return jsonString(v);
    case 'number': return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean': return v ? 'true' : 'false';
    case 'bigint': return v.toString();
    default:
      if (v === null) return 'null';
      return '[' + v.map(jsonValue).join(',') + ']';
  }
}

function concat(a: EventValue, b: EventValue): EventValue {
  return valueToText(a) + valueToText(b);
}

/**
 * Writes a record's evtx_dump JSON straight to text, for `spoor dump`: no object tree, no
 * JSON.stringify of it. It covers what nearly every record is; when a record repeats a name in one
 * object or mixes text and elements (where evtx_dump renames or merges), it throws NeedsTree and the
 * caller renders that record through JsonSink, whose output is the reference.
 */
export class JsonTextSink implements BinXmlSink {
  readonly keepsEmptyOptional = true;
  private out = '{';
  private readonly stack: Frame[] = [frame('', State.Object)];

  /**
   * With `recording`, values of the record's own template are written as slot marks instead of
   * their text, giving the shape that every record with the same template and value types shares.
   */
  constructor(private readonly buf: Buffer, private readonly recording = false) {}

  private emit(v: EventValue, slot: number, nullIfEmpty = false): string {
    if (!this.recording || slot === -1) return nullIfEmpty && v === '' ? 'null' : jsonValue(v);
    if (slot < 0) throw NOT_A_SHAPE;
    return SLOT_MARK + (nullIfEmpty ? NULL_IF_EMPTY : '') + slot + SLOT_MARK;
  }

  toString(): string {
    const root = this.stack[0]!;
    this.closeGroup(root);
    return this.out + '}';
  }

  open(name: string, attrs: readonly ResolvedAttribute[]): void {
    const parent = this.openParent();
    if (name === 'Data') {
      const nameAttr = attrs.find((a) => a.name === 'Name');
      if (!nameAttr) {
        if (!parent.groupOpen) {
          this.claim(parent, 'Data');
          parent.groupOpen = true;
          parent.groupItems = [];
        }
        const f = frame('', State.Deferred, false);
        f.unnamed = true;
        this.stack.push(f);
        return;
      }
      this.closeGroup(parent);
      if (this.recording && nameAttr.slot !== -1) throw NOT_A_SHAPE;
      const key = valueToText(this.attrValue(nameAttr));
      this.claim(parent, key);
      this.stack.push(frame(JSON.stringify(key) + ':', State.Deferred, false));
      return;
    }
    this.closeGroup(parent);
    this.claim(parent, name);
    let attributes = '';
    for (const a of attrs) {
      const v = this.attrValue(a);
      if (v === null) continue;
      attributes += (attributes ? ',' : '') + JSON.stringify(a.name) + ':' + this.emit(v, a.slot);
    }
    const key = JSON.stringify(name) + ':';
    if (!attributes) {
      this.stack.push(frame(key, State.Deferred, true));
      return;
    }
    this.out += (parent.needsComma ? ',' : '') + key + '{"#attributes":{' + attributes + '}';
    parent.needsComma = true;
    const f = frame(key, State.Object, true);
    f.needsComma = true;
    this.stack.push(f);
  }

  close(): void {
    const f = this.stack.pop()!;
    if (f.unnamed) {
      // Each unnamed <Data> is one item, an empty one too.
      if (!f.added) this.stack[this.stack.length - 1]!.groupItems.push('""');
      return;
    }
    const parent = this.stack[this.stack.length - 1]!;
    if (f.state === State.Object) {
      this.closeGroup(f);
      if (f.pending !== undefined && !this.emptyText(f)) this.out += ',"#text":' + this.emit(f.pending, f.pendingSlot);
      this.out += '}';
      return;
    }
    const empty = f.pending === undefined || this.emptyText(f);
    this.out += (parent.needsComma ? ',' : '') + f.key + (empty ? 'null' : this.emit(f.pending!, f.pendingSlot, f.plain && f.pendingSlot >= 0 && mayBeEmpty(f.pendingType)));
    parent.needsComma = true;
  }

  /**
   * Whether a plain element's text is empty, so written as no text. While recording a shape, a value
   * of the record's own that could be empty in another record is a NULL_IF_EMPTY slot where the
   * element is a scalar, and not a shape at all where it would be an optional `#text` key.
   */
  private emptyText(f: Frame): boolean {
    if (!f.plain) return false;
    if (this.recording && f.pendingSlot >= 0 && mayBeEmpty(f.pendingType)) {
      if (f.state === State.Object) throw NOT_A_SHAPE;
      return false;
    }
    return f.pending === '';
  }

  value(type: number, off: number, size: number, slot: number): void {
    this.add(decodeValue(this.buf, type, off, size, 'json'), slot, type);
  }

  valueText(type: number, off: number, size: number): string {
    return valueToText(decodeValue(this.buf, type, off, size, 'json'));
  }

  text(text: string): void {
    this.add(text, -1);
  }

  entity(name: string): void {
    this.add(entityText(name), -1);
  }

  charRef(code: number): void {
    this.add(String.fromCharCode(code), -1);
  }

  cdata(text: string): void {
    this.add(text, -1);
  }

  pi(): void {
    // evtx_dump has no JSON form for processing instructions.
  }

  private attrValue(a: ResolvedAttribute): EventValue {
    return a.text !== undefined ? a.text : decodeValue(this.buf, a.type, a.off, a.size, 'json');
  }

  /** The innermost element, opened as an object so that a child can be written into it. */
  private openParent(): Frame {
    const parent = this.stack[this.stack.length - 1]!;
    if (parent.unnamed || parent.state === State.Scalar || parent.pending !== undefined) throw NEEDS_TREE;
    if (parent.state === State.Deferred) {
      const grand = this.stack[this.stack.length - 2]!;
      this.out += (grand.needsComma ? ',' : '') + parent.key + '{';
      grand.needsComma = true;
      parent.state = State.Object;
    }
    return parent;
  }

  private claim(parent: Frame, key: string): void {
    const keys = (parent.keys ??= new Set());
    if (keys.has(key)) throw NEEDS_TREE;
    keys.add(key);
  }

  /** Writes an object's gathered unnamed-<Data> items: one item as itself, several as a list. */
  private closeGroup(parent: Frame): void {
    if (!parent.groupOpen) return;
    const items = parent.groupItems;
    this.out += (parent.needsComma ? ',' : '') + '"Data":{"#text":' + (items.length === 1 ? items[0]! : '[' + items.join(',') + ']') + '}';
    parent.needsComma = true;
    parent.groupOpen = false;
    parent.groupItems = [];
  }

  private add(v: EventValue, slot: number, type = -1): void {
    if (v === null) return;
    const f = this.stack[this.stack.length - 1]!;
    if (f.unnamed) {
      // Text in several parts within one unnamed <Data> is joined by evtx_dump: left to the tree.
      if (f.added && !Array.isArray(v)) throw NEEDS_TREE;
      const group = this.stack[this.stack.length - 2]!;
      if (Array.isArray(v)) {
        if (this.recording && slot !== -1) throw NOT_A_SHAPE; // how many items is not in the shape
        for (const item of v) group.groupItems.push(jsonValue(item));
      } else group.groupItems.push(this.emit(v, slot));
      f.added = true;
      return;
    }
    if (f.state === State.Deferred) f.state = State.Scalar;
    if (f.pending === undefined) {
      f.pending = v;
      f.pendingSlot = slot;
      f.pendingType = type;
    } else {
      f.pending = concat(f.pending, v);
      f.pendingSlot = f.pendingSlot === -1 && slot === -1 ? -1 : -2;
      f.pendingType = -1;
    }
  }
}

function frame(key: string, state: State, plain = true): Frame {
  return { key, state, pending: undefined, pendingSlot: -1, pendingType: -1, keys: undefined, needsComma: false, groupOpen: false, groupItems: [], unnamed: false, added: false, plain };
}
