import { type BinXmlNode, type BinXmlParser, NodeKind, type Template, type TemplateNode } from './binxml.js';
import { JsonTextSink, NeedsTree, NotAShape, NULL_IF_EMPTY, SLOT_MARK } from './json-text-sink.js';
import type { ByteBuffer } from './byte-buffer.js';
import { ValueType } from './constants.js';
import { writeJsonValue } from './json-bytes.js';
import { isEmptyValue } from './values.js';
import { newBudget, type RecordInstances, SLOT_INSTANCE_SHIFT, walk } from './walk.js';

/**
 * The JSON text of a record as fixed text between its values. Records made of the same templates
 * with values of the same types (which are NULL, arrays, nested documents …) print the same text
 * around their values, so that text is recorded once and then filled in.
 */
export interface JsonShape {
  /** Text before each value, and after the last one: segments.length = slots.length + 1. */
  segments: string[];
  /** The same as UTF-8 bytes. */
  segmentBytes: Buffer[];
  slots: number[];
  /** Per slot: the value is a plain element's whole content, written null when it is empty text. */
  nullIfEmpty: boolean[];
}

/** Shapes by record signature: a shape, 'tree' when such records need the object model, null when none serves. */
const SHAPES = new Map<string, JsonShape | 'tree' | null>();
const MAX_SHAPES = 8192;

const templateIds = new WeakMap<Template, number>();
let nextTemplateId = 0;

function templateId(t: Template): number {
  let id = templateIds.get(t);
  if (id === undefined) templateIds.set(t, (id = nextTemplateId++));
  return id;
}

/** A record in one template instance, with the instances inside its BinXml values, and its signature. */
export interface ExpandedRecord extends RecordInstances {
  top: TemplateNode;
  /** Templates and value types of every instance: records with equal signatures share a shape. */
  signature: string;
}

/** Takes a record apart for shapes; undefined when it is not made of template instances only. */
export function expandRecord(parser: BinXmlParser, nodes: readonly BinXmlNode[]): ExpandedRecord | undefined {
  const top = nodes.length === 1 ? nodes[0]! : undefined;
  if (top?.kind !== NodeKind.Template) return undefined;
  const record: ExpandedRecord = { top, values: [], docs: new Map(), signature: '' };
  const visit = (t: TemplateNode, depth: number): boolean => {
    const { types, offsets, sizes } = t.values;
    record.values.push(t.values);
    record.signature += templateId(t.template) + ':' + String.fromCharCode.apply(null, types) + '|';
    for (let i = 0; i < types.length; i++) {
      if (types[i] !== ValueType.BinXml) continue;
      if (sizes[i] === 0) {
        record.signature += '-';
        continue;
      }
      const doc = parser.parseDocument(offsets[i]!, offsets[i]! + sizes[i]!, depth + 1);
      const inner = doc.length === 1 ? doc[0]! : undefined;
      if (inner?.kind !== NodeKind.Template || depth > 4) return false;
      record.docs.set(offsets[i]!, doc);
      if (!visit(inner, depth + 1)) return false;
    }
    return true;
  };
  return visit(top, 0) ? record : undefined;
}

/** The shape of records like this one: recorded from it the first time. */
export function shapeOf(parser: BinXmlParser, record: ExpandedRecord, buf: Buffer): JsonShape | 'tree' | null {
  let shape = SHAPES.get(record.signature);
  if (shape === undefined) {
    if (SHAPES.size >= MAX_SHAPES) SHAPES.clear();
    SHAPES.set(record.signature, (shape = recordShape(parser, record, buf)));
  }
  return shape;
}

function recordShape(parser: BinXmlParser, record: ExpandedRecord, buf: Buffer): JsonShape | 'tree' | null {
  const sink = new JsonTextSink(buf, true);
  try {
    walk(parser, [record.top], sink, newBudget(), undefined, record);
  } catch (e) {
    if (e instanceof NeedsTree) return 'tree';
    if (e instanceof NotAShape) return null;
    throw e;
  }
  const parts = sink.toString().split(SLOT_MARK);
  const segments: string[] = [];
  const slots: number[] = [];
  const nullIfEmpty: boolean[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) segments.push(parts[i]!);
    else {
      const nullable = parts[i]!.startsWith(NULL_IF_EMPTY);
      slots.push(Number(nullable ? parts[i]!.slice(NULL_IF_EMPTY.length) : parts[i]));
      nullIfEmpty.push(nullable);
    }
  }
  return { segments, segmentBytes: segments.map((t) => Buffer.from(t, 'utf8')), slots, nullIfEmpty };
}

/** Writes a record of this shape as UTF-8 into `out`: the shape's text with the record's values. */
export function fillShapeInto(shape: JsonShape, buf: Buffer, record: RecordInstances, out: ByteBuffer): void {
  const { segmentBytes, slots, nullIfEmpty } = shape;
  out.bytes(segmentBytes[0]!);
  for (let k = 0; k < slots.length; k++) {
    const slot = slots[k]!;
    const v = record.values[slot >>> SLOT_INSTANCE_SHIFT]!;
    const i = slot & 0xffff;
    if (nullIfEmpty[k] && isEmptyValue(buf, v.types[i]!, v.offsets[i]!, v.sizes[i]!)) out.bytes(NULL);
    else writeJsonValue(out, buf, v.types[i]!, v.offsets[i]!, v.sizes[i]!);
    out.bytes(segmentBytes[k + 1]!);
  }
}

const NULL = Buffer.from('null');
