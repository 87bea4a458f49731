import { HAS_MORE_FLAG, Token } from './constants.js';
import { EvtxFormatError } from './errors.js';

/**
 * Binary XML parsed into a small tree. Template definitions are parsed once per chunk and shared by
 * every record that instantiates them; a record is then only its template plus the offsets of its
 * substitution values inside the chunk buffer.
 */
export type BinXmlNode = ElementNode | TextNode | SubstitutionNode | EntityNode | CharRefNode | CDataNode | PINode | TemplateNode;

export const enum NodeKind { Element, Text, Substitution, Entity, CharRef, CData, PI, Template }

export interface ElementNode { kind: NodeKind.Element; name: string; attrs: AttributeNode[]; children: BinXmlNode[] }
export interface AttributeNode { name: string; value: BinXmlNode[] }
export interface TextNode { kind: NodeKind.Text; text: string }
export interface SubstitutionNode { kind: NodeKind.Substitution; index: number; type: number; optional: boolean }
export interface EntityNode { kind: NodeKind.Entity; name: string }
export interface CharRefNode { kind: NodeKind.CharRef; code: number }
export interface CDataNode { kind: NodeKind.CData; text: string }
export interface PINode { kind: NodeKind.PI; target: string; data: string }
export interface TemplateNode { kind: NodeKind.Template; template: Template; values: TemplateValues }

export interface Template { guid: string; nodes: BinXmlNode[] }

/** Substitution values of one template instance: type, offset and size of each, in the chunk buffer. */
export interface TemplateValues { types: number[]; offsets: number[]; sizes: number[] }

/** Nesting deeper than this is treated as corruption: real events nest a handful of levels. */
const MAX_DEPTH = 48;
const COMPILING: unique symbol = Symbol('compiling');

/** Parses the binary XML of one chunk, caching names and templates by their offset in the chunk. */
export class BinXmlParser {
  private readonly names = new Map<number, string>();
  private readonly templates = new Map<number, Template | typeof COMPILING>();
  private compiling: Compiling | undefined;

  constructor(readonly buf: Buffer) {}

  /** Parses a document (fragments, template instances, elements) in [start, end). */
  parseDocument(start: number, end: number, depth = 0): BinXmlNode[] {
    if (depth > MAX_DEPTH) throw new EvtxFormatError(`binary XML nested deeper than ${MAX_DEPTH} levels`);
    if (end > this.buf.length) throw new EvtxFormatError('binary XML runs past the end of the chunk');
    const nodes: BinXmlNode[] = [];
    const c = new Cursor(this.buf, start, end);
    while (c.pos < end) {
      const token = this.buf[c.pos]!;
      switch (token & ~HAS_MORE_FLAG) {
        case Token.EOF:
          return nodes;
        case Token.FragmentHeader:
          c.skip(4);
          break;
        // A document has one root: what follows it (the RenderingInfo Windows appends to some events'
        // data as a second template instance) is rendered by neither evtx_dump, libevtx nor python-evtx.
        case Token.TemplateInstance:
          nodes.push(this.templateInstance(c, depth));
          return nodes;
        case Token.OpenStartElement:
          nodes.push(this.element(c, depth));
          return nodes;
        case Token.PITarget:
          nodes.push(this.pi(c));
          break;
        default:
          throw new EvtxFormatError(`unexpected token 0x${token.toString(16)} at chunk offset 0x${c.pos.toString(16)}`);
      }
    }
    return nodes;
  }

  private element(c: Cursor, depth: number): ElementNode {
    if (depth > MAX_DEPTH) throw new EvtxFormatError(`elements nested deeper than ${MAX_DEPTH} levels`);
    const start = c.pos;
    const hasAttrs = (c.u8() & HAS_MORE_FLAG) !== 0;
    // The 2-byte dependency identifier is absent in some BinXML (forwarded events, some nested values):
    // keep it only if the element size and name offset it implies make sense.
    if (this.plausibleElementStart(start, 3, c.end) || !this.plausibleElementStart(start, 1, c.end)) c.skip(2);
    const size = c.u32();
    const elementEnd = c.pos + size;
    if (elementEnd > c.end) throw new EvtxFormatError(`element of ${size} bytes runs past its container at 0x${c.pos.toString(16)}`);
    const name = this.name(c);
    const attrs: AttributeNode[] = [];
    if (hasAttrs) {
      const listEnd = c.pos + 4 + c.u32();
      if (listEnd > elementEnd) throw new EvtxFormatError('attribute list runs past its element');
      while (c.pos < listEnd) {
        const t = c.u8() & ~HAS_MORE_FLAG;
        if (t !== Token.Attribute) throw new EvtxFormatError(`expected an attribute, found token 0x${t.toString(16)} at 0x${(c.pos - 1).toString(16)}`);
        const attrName = this.name(c);
        attrs.push({ name: attrName, value: this.attributeValue(c, listEnd, depth) });
      }
    }
    const close = c.u8();
    if (close === Token.CloseEmptyElement) return { kind: NodeKind.Element, name, attrs, children: [] };
    if (close !== Token.CloseStartElement) throw new EvtxFormatError(`element <${name}> not closed: token 0x${close.toString(16)} at 0x${(c.pos - 1).toString(16)}`);
    return { kind: NodeKind.Element, name, attrs, children: this.content(c, depth) };
  }

  /** Whether an element whose size field sits at start+sizeAt has a size that fits and a valid name offset. */
  private plausibleElementStart(start: number, sizeAt: number, end: number): boolean {
    const sizePos = start + sizeAt;
    if (sizePos + 8 > end) return false;
    const size = this.buf.readUInt32LE(sizePos);
    const nameOffset = this.buf.readUInt32LE(sizePos + 4);
    const afterName = sizePos + 8;
    return sizePos + 4 + size <= end && (nameOffset === afterName || nameOffset < start);
  }

  private attributeValue(c: Cursor, end: number, depth: number): BinXmlNode[] {
    const parts: BinXmlNode[] = [];
    while (c.pos < end) {
      const t = this.buf[c.pos]! & ~HAS_MORE_FLAG;
      if (t === Token.Attribute) break;
      const node = this.valuePart(c, t, depth);
      if (!node) throw new EvtxFormatError(`unexpected token 0x${t.toString(16)} in an attribute value at 0x${c.pos.toString(16)}`);
      parts.push(node);
    }
    return parts;
  }

  /** Tokens that may stand in attribute values and element content; undefined for any other token. */
  private valuePart(c: Cursor, t: number, depth: number): BinXmlNode | undefined {
    switch (t) {
      case Token.Value: {
        c.skip(1);
        const type = c.u8();
        if (type !== 0x01) throw new EvtxFormatError(`value text of type 0x${type.toString(16)} is not a string`);
        return { kind: NodeKind.Text, text: c.utf16(c.u16()) };
      }
      case Token.NormalSubstitution:
      case Token.OptionalSubstitution: {
        c.skip(1);
        const index = c.u16();
        const type = c.u8();
        return { kind: NodeKind.Substitution, index, type, optional: t === Token.OptionalSubstitution };
      }
      case Token.CharRef:
        c.skip(1);
        return { kind: NodeKind.CharRef, code: c.u16() };
      case Token.EntityRef:
        c.skip(1);
        return { kind: NodeKind.Entity, name: this.name(c) };
      case Token.CDataSection:
        c.skip(1);
        return { kind: NodeKind.CData, text: c.utf16(c.u16()) };
      case Token.TemplateInstance:
        return this.templateInstance(c, depth + 1);
      default:
        return undefined;
    }
  }

  private content(c: Cursor, depth: number): BinXmlNode[] {
    const children: BinXmlNode[] = [];
    for (;;) {
      if (c.pos >= c.end) throw new EvtxFormatError('element content runs past the end of its data');
      const t = this.buf[c.pos]! & ~HAS_MORE_FLAG;
      if (t === Token.EndElement) {
        c.skip(1);
        return children;
      }
      if (t === Token.OpenStartElement) children.push(this.element(c, depth + 1));
      else if (t === Token.PITarget) children.push(this.pi(c));
      else {
        const node = this.valuePart(c, t, depth);
        if (!node) throw new EvtxFormatError(`unexpected token 0x${t.toString(16)} in element content at 0x${c.pos.toString(16)}`);
        children.push(node);
      }
    }
  }

  private pi(c: Cursor): PINode {
    c.skip(1);
    const target = this.name(c);
    const t = c.u8();
    if (t !== Token.PIData) throw new EvtxFormatError(`processing instruction without data at 0x${(c.pos - 1).toString(16)}`);
    return { kind: NodeKind.PI, target, data: c.utf16(c.u16()) };
  }

  private templateInstance(c: Cursor, depth: number): TemplateNode {
    c.skip(2); // token, unknown byte
    c.skip(4); // template identifier
    const defOffset = c.u32();
    if (defOffset === c.pos) {
      // Definition stored inline: skip next-offset (4), GUID (16), data size (4) and the data.
      c.skip(20);
      c.skip(c.u32());
    }
    const template = this.template(defOffset, depth);
    const count = c.u32();
    if (count * 4 > c.end - c.pos) throw new EvtxFormatError(`template instance claims ${count} values, more than fit`);
    const types: number[] = new Array(count);
    const offsets: number[] = new Array(count);
    const sizes: number[] = new Array(count);
    let valuePos = c.pos + count * 4;
    for (let i = 0; i < count; i++) {
      const size = c.u16();
      types[i] = c.u8();
      c.skip(1);
      sizes[i] = size;
      offsets[i] = valuePos;
      valuePos += size;
    }
    if (valuePos > c.end) throw new EvtxFormatError('template values run past the end of the record');
    c.pos = valuePos;
    return { kind: NodeKind.Template, template, values: { types, offsets, sizes } };
  }

  private template(offset: number, depth: number): Template {
    const cached = this.templates.get(offset);
    if (cached === COMPILING) throw new EvtxFormatError(`template at 0x${offset.toString(16)} refers to itself`);
    if (cached) return cached;
    if (offset + 24 > this.buf.length) throw new EvtxFormatError(`template offset 0x${offset.toString(16)} is outside the chunk`);
    const size = this.buf.readUInt32LE(offset + 20);
    const end = offset + 24 + size;
    if (end > this.buf.length) throw new EvtxFormatError(`template at 0x${offset.toString(16)} runs past the end of the chunk`);
    const key = this.buf.toString('latin1', offset + 4, end);
    const shared = this.sharedTemplate(key);
    if (shared) {
      this.templates.set(offset, shared);
      return shared;
    }
    this.templates.set(offset, COMPILING);
    const outer = this.compiling;
    const compiling: Compiling = { start: offset, end, external: [], shareable: true };
    this.compiling = compiling;
    try {
      const nodes = this.parseDocument(offset + 24, end, depth + 1);
      const template: Template = { guid: guidAt(this.buf, offset + 4), nodes };
      this.templates.set(offset, template);
      if (compiling.shareable) shareTemplate(key, { template, externalNames: compiling.external });
      return template;
    } catch (e) {
      this.templates.delete(offset);
      throw e;
    } finally {
      this.compiling = outer;
      if (outer) outer.shareable = false; // a template inside a template points into this chunk
    }
  }

  /** A template compiled in an earlier chunk from the same bytes, whose outside names read the same here. */
  private sharedTemplate(key: string): Template | undefined {
    for (const candidate of SHARED.get(key) ?? []) {
      if (candidate.externalNames.every(([offset, name]) => this.nameOrUndefined(offset) === name)) return candidate.template;
    }
    return undefined;
  }

  private nameOrUndefined(offset: number): string | undefined {
    try {
      return this.nameAt(offset);
    } catch {
      return undefined;
    }
  }

  /** Reads a name reference; a name defined in place (its offset is the current position) is skipped over. */
  private name(c: Cursor): string {
    const offset = c.u32();
    if (offset === c.pos) {
      c.skip(6);
      c.skip(2 * (c.u16() + 1));
    }
    const name = this.nameAt(offset);
    const compiling = this.compiling;
    if (compiling && (offset < compiling.start || offset >= compiling.end)) compiling.external.push([offset, name]);
    return name;
  }

  private nameAt(offset: number): string {
    let name = this.names.get(offset);
    if (name === undefined) {
      if (offset + 8 > this.buf.length) throw new EvtxFormatError(`name offset 0x${offset.toString(16)} is outside the chunk`);
      const chars = this.buf.readUInt16LE(offset + 6);
      const end = offset + 8 + 2 * chars;
      if (end > this.buf.length) throw new EvtxFormatError(`name at 0x${offset.toString(16)} runs past the end of the chunk`);
      name = this.buf.toString('utf16le', offset + 8, end);
      this.names.set(offset, name);
    }
    return name;
  }
}

/** The template being compiled: its byte range and the names it takes from elsewhere in the chunk. */
interface Compiling {
  start: number;
  end: number;
  external: [number, string][];
  /** False when it instantiates another template, whose definition lies elsewhere in this chunk. */
  shareable: boolean;
}

interface SharedTemplate {
  template: Template;
  externalNames: [number, string][];
}

/**
 * Templates by their definition bytes, shared across chunks and files: a log repeats a handful of
 * templates in every chunk, so each is compiled once per thread (and its JSON shapes recorded once).
 * Bounded: a hostile input with endless distinct templates only refills it.
 */
const SHARED = new Map<string, SharedTemplate[]>();
const MAX_SHARED = 4096;

function shareTemplate(key: string, t: SharedTemplate): void {
  if (SHARED.size >= MAX_SHARED) SHARED.clear();
  const list = SHARED.get(key);
  if (list) list.push(t);
  else SHARED.set(key, [t]);
}

function guidAt(buf: Buffer, off: number): string {
  return buf.subarray(off, off + 16).toString('hex');
}

/** A bounds-checked position in the chunk buffer. */
class Cursor {
  constructor(readonly buf: Buffer, public pos: number, readonly end: number) {}

  private check(n: number): void {
    if (this.pos + n > this.end) throw new EvtxFormatError(`data truncated at chunk offset 0x${this.pos.toString(16)}`);
  }
  skip(n: number): void {
    this.check(n);
    this.pos += n;
  }
  u8(): number {
    this.check(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.check(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.check(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  utf16(chars: number): string {
    this.check(2 * chars);
    const s = this.buf.toString('utf16le', this.pos, this.pos + 2 * chars);
    this.pos += 2 * chars;
    return s;
  }
}
