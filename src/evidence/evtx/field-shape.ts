import { type BinXmlParser } from './binxml.js';
import { ARRAY_FLAG, ValueType } from './constants.js';
import { flattenEvtxEvent } from '../event.js';
import { type ExpandedRecord } from './json-shape.js';
import { JsonSink, type ValuePlace } from './json-sink.js';
import type { EventValue } from './values.js';
import { newBudget, walk } from './walk.js';

/**
 * The fields rules see of records made of the same templates with values of the same types: which
 * field is which substitution value, which is fixed text. Recorded once per kind of record, it lets
 * an event's fields be read straight from its values (see EvtxRecordView) instead of building the
 * evtx_dump object and flattening it for every record. What an empty value becomes depends on where
 * it goes (see ValuePlace); where a field's value depends on more than that (text joined to a value,
 * a Data name given by a value, an array spread into unnamed Data) there is no shape.
 */
export interface FieldShape {
  names: string[];
  /** Per field: a slot (instance << 16 | index) with its place, fixed values, or items of unnamed Data. */
  fields: FieldSource[];
  /** Field index by name. */
  index: Map<string, number>;
}

export type FieldSource =
  | { kind: 'slot'; slot: number; place: ValuePlace }
  | { kind: 'fixed'; value: unknown }
  | { kind: 'items'; items: ({ slot: number; place: ValuePlace } | { value: unknown })[] };

class NoShape extends Error {}

/** A value's stand-in while a shape is recorded: its slot and place, between NULs no template text holds. */
const TOKEN = /^\0(\d+):([a-z]+)\0$/;

/** The JSON model with tokens for values: `flattenEvtxEvent` then tells which field each one became. */
class MarkingSink extends JsonSink {
  protected override decode(type: number, off: number, size: number, slot: number, within: ValuePlace): EventValue {
    // Values of these types are null whatever they hold: the same in every record of the kind.
    if (type === ValueType.Null || type === ValueType.EvtHandle || type === ValueType.EvtXml) return super.decode(type, off, size, slot, within);
    if (slot < 0 || ((type & ARRAY_FLAG) !== 0 && within === 'item')) throw new NoShape();
    return `\0${slot}:${within}\0`;
  }

  override valueText(): string {
    throw new NoShape();
  }
}

const SHAPES = new Map<string, FieldShape | null>();
const MAX_SHAPES = 8192;

/** The field shape of records like this one (recorded from it the first time), or null when none serves. */
export function fieldShapeOf(parser: BinXmlParser, record: ExpandedRecord, buf: Buffer): FieldShape | null {
  let shape = SHAPES.get(record.signature);
  if (shape === undefined) {
    if (SHAPES.size >= MAX_SHAPES) SHAPES.clear();
    SHAPES.set(record.signature, (shape = recordFieldShape(parser, record, buf)));
  }
  return shape;
}

function recordFieldShape(parser: BinXmlParser, record: ExpandedRecord, buf: Buffer): FieldShape | null {
  const sink = new MarkingSink(buf);
  try {
    walk(parser, [record.top], sink, newBudget(), undefined, record);
  } catch (e) {
    if (e instanceof NoShape) return null;
    throw e;
  }
  const shape: FieldShape = { names: [], fields: [], index: new Map() };
  const source = (v: unknown): { slot: number; place: ValuePlace } | { value: unknown } => {
    if (typeof v !== 'string' || !v.includes('\0')) return { value: v };
    const m = TOKEN.exec(v);
    if (!m) throw new NoShape(); // a value joined with text or another value
    return { slot: Number(m[1]), place: m[2] as ValuePlace };
  };
  try {
    for (const [name, v] of flattenEvtxEvent(sink.root)) {
      let field: FieldSource;
      if (Array.isArray(v)) field = { kind: 'items', items: v.map(source) };
      else {
        const s = source(v);
        field = 'slot' in s ? { kind: 'slot', ...s } : { kind: 'fixed', value: s.value };
      }
      shape.index.set(name, shape.fields.length);
      shape.names.push(name);
      shape.fields.push(field);
    }
  } catch (e) {
    if (e instanceof NoShape) return null;
    throw e;
  }
  return shape;
}
