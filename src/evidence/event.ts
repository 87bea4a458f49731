/**
 * An event as rules see it: field values by name. Readers of every format produce these; rules know
 * nothing of where an event came from.
 */
export interface Event {
  /** The value of a field: string, number, boolean, bigint, null, or an array of those; undefined when absent. */
  get(field: string): unknown;
  /** Every value of the event, for keyword (field-less) search. */
  values(): readonly unknown[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Fields of an evtx_dump-shaped event, named as Sigma names them for Windows logs: EventData and
 * UserData values by their names (and without spaces, as Sigma writes names that have them); System
 * elements by their names, their attributes as `Element_Attribute` (`Provider_Name`, `Security_UserID`).
 */
export function flattenEvtxEvent(event: unknown): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  const root = isObj(event) && isObj(event.Event) ? event.Event : undefined;
  if (!root) return fields;
  const system = root.System;
  if (isObj(system)) {
    for (const [name, v] of Object.entries(system)) {
      if (isObj(v)) {
        const attrs = v['#attributes'];
        if (isObj(attrs)) for (const [a, x] of Object.entries(attrs)) fields.set(`${name}_${a}`, x);
        if ('#text' in v) fields.set(name, v['#text']);
      } else fields.set(name, v);
    }
  }
  // Sigma names a field with spaces ("Threat Name", as Defender writes it) without them: ThreatName.
  const set = (name: string, v: unknown) => {
    fields.set(name, v);
    if (name.includes(' ')) fields.set(name.replace(/ /g, ''), v);
  };
  const data = (node: unknown): void => {
    if (!isObj(node)) return;
    for (const [name, v] of Object.entries(node)) {
      if (name === '#attributes') continue;
      if (isObj(v)) {
        if ('#text' in v && Object.keys(v).every((k) => k === '#text' || k === '#attributes')) set(name, v['#text']);
        else data(v);
      } else set(name, v);
    }
  };
  data(root.EventData);
  data(root.UserData);
  return fields;
}

/** An Event that can give back the evtx_dump-shaped object it stands for (what outputs print). */
export interface RawEvent extends Event {
  toRaw(): unknown;
  /** The object's JSON, `toJson(toRaw())`, where a reader can write it without building the object (optional). */
  toJsonText?(): string;
  /** Every field by name, as `get` gives it (what stores that keep each field, such as SQL tables, write). */
  fields(): ReadonlyMap<string, unknown>;
}

/** An Event over an evtx_dump-shaped object; fields are flattened on first use. */
export class EvtxEvent implements RawEvent {
  private flat: Map<string, unknown> | undefined;
  private all: unknown[] | undefined;

  constructor(readonly raw: unknown) {}

  private map(): Map<string, unknown> {
    return (this.flat ??= flattenEvtxEvent(this.raw));
  }

  get(field: string): unknown {
    return this.map().get(field);
  }

  values(): readonly unknown[] {
    return (this.all ??= [...this.map().values()]);
  }

  toRaw(): unknown {
    return this.raw;
  }

  fields(): ReadonlyMap<string, unknown> {
    return this.map();
  }
}
