import type { BinXmlParser, Template, TemplateValues } from './binxml.js';
import { JsonTextSink, jsonValue, NeedsTree, NotAShape, SLOT_MARK } from './json-text-sink.js';
import { ValueType } from './constants.js';
import { decodeValue } from './values.js';
import { newBudget, walk } from './walk.js';

/**
 * The JSON text of a template instance whose values have given types: fixed text between the
 * values. Every record of a chunk that instantiates the same template with the same value types
 * (which values are NULL, arrays …) has the same shape, so it is recorded once and then filled in.
 */
export interface JsonShape {
  /** Text before each value, and after the last one: segments.length = slots.length + 1. */
  segments: string[];
  slots: number[];
}

/** Per template: shape by value-type signature; 'tree' when records need the object model; null when no shape serves. */
export type ShapeCache = Map<string, JsonShape | 'tree' | null>;

const caches = new WeakMap<Template, ShapeCache>();

export function shapeCache(template: Template): ShapeCache {
  let c = caches.get(template);
  if (!c) caches.set(template, (c = new Map()));
  return c;
}

/** The value-type signature of an instance: its count and each value's type. */
export function typeSignature(values: TemplateValues): string {
  return String.fromCharCode.apply(null, values.types as unknown as number[]);
}

export function recordShape(parser: BinXmlParser, template: Template, values: TemplateValues, buf: Buffer): JsonShape | 'tree' | null {
  // A BinXml value is a document of its own: what it holds is not in the types.
  if (values.types.includes(ValueType.BinXml)) return null;
  const sink = new JsonTextSink(buf, true);
  try {
    walk(parser, template.nodes, sink, newBudget(), values, values);
  } catch (e) {
    if (e instanceof NeedsTree) return 'tree';
    if (e instanceof NotAShape) return null;
    throw e;
  }
  const parts = sink.toString().split(SLOT_MARK);
  const segments: string[] = [];
  const slots: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) segments.push(parts[i]!);
    else slots.push(Number(parts[i]));
  }
  return { segments, slots };
}

export function fillShape(shape: JsonShape, buf: Buffer, values: TemplateValues): string {
  const { segments, slots } = shape;
  let out = segments[0]!;
  for (let k = 0; k < slots.length; k++) {
    const i = slots[k]!;
    out += jsonValue(decodeValue(buf, values.types[i]!, values.offsets[i]!, values.sizes[i]!, 'json')) + segments[k + 1]!;
  }
  return out;
}
