import type { RawEvent } from '../event.js';
import type { FieldShape } from './field-shape.js';
import type { ValuePlace } from './json-sink.js';
import type { RecordInstances } from './walk.js';
import { SLOT_INSTANCE_SHIFT } from './walk.js';
import { decodeValue, type EventValue } from './values.js';

/** A field an empty value leaves out (the text of an element that is an object). */
const ABSENT = Symbol('absent');

/**
 * A record as the Event rules see, its fields decoded straight from its values by its kind's
 * FieldShape: what `new EvtxEvent(record in evtx_dump's shape)` gives, without building that object
 * and flattening it. Values are decoded when the view is made (a rule set reads them all anyway, and
 * a value that cannot be decoded then fails the record where the reader reports it); `toRaw` builds
 * the object, for the records that match.
 */
export class EvtxRecordView implements RawEvent {
  private readonly decoded: (unknown | typeof ABSENT)[];
  private raw: unknown;
  private all: unknown[] | undefined;

  /** `render`: the record as the evtx_dump object ('tree') or as its JSON text ('json'). */
  constructor(private readonly shape: FieldShape, buf: Buffer, record: RecordInstances, private readonly render: (as: 'tree' | 'json') => unknown) {
    const fields = shape.fields;
    const decoded = new Array<unknown>(fields.length);
    for (let k = 0; k < fields.length; k++) {
      const f = fields[k]!;
      if (f.kind === 'slot') decoded[k] = valueAt(buf, record, f.slot, f.place);
      else if (f.kind === 'fixed') decoded[k] = f.value;
      else decoded[k] = f.items.map((item) => ('slot' in item ? valueAt(buf, record, item.slot, item.place) : item.value));
    }
    this.decoded = decoded;
  }

  get(field: string): unknown {
    const k = this.shape.index.get(field);
    if (k === undefined) return undefined;
    const v = this.decoded[k];
    return v === ABSENT ? undefined : v;
  }

  values(): readonly unknown[] {
    return (this.all ??= this.decoded.filter((v) => v !== ABSENT));
  }

  toRaw(): unknown {
    return (this.raw ??= this.render('tree'));
  }

  toJsonText(): string {
    return this.render('json') as string;
  }

  fields(): ReadonlyMap<string, unknown> {
    const out = new Map<string, unknown>();
    this.shape.names.forEach((name, k) => {
      if (this.decoded[k] !== ABSENT) out.set(name, this.decoded[k]);
    });
    return out;
  }
}

/** A substitution value as the evtx_dump model has it in its place: an empty one is no value in a plain element, no text in one that is an object. */
function valueAt(buf: Buffer, record: RecordInstances, slot: number, place: ValuePlace): EventValue | typeof ABSENT {
  const values = record.values[slot >>> SLOT_INSTANCE_SHIFT]!;
  const i = slot & 0xffff;
  const v = decodeValue(buf, values.types[i]!, values.offsets[i]!, values.sizes[i]!, 'json');
  if (v !== '') return v;
  return place === 'plain' ? null : place === 'text' ? ABSENT : v;
}
