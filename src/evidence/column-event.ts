import { flattenEvtxEvent, type RawEvent } from './event.js';

/** Field positions by column name (a name Sigma writes without its spaces too; the last of a repeated name wins, as in an object). */
const positions = new WeakMap<readonly string[], Map<string, number>>();

export function positionsOf(columns: readonly string[]): Map<string, number> {
  let p = positions.get(columns);
  if (!p) {
    p = new Map();
    columns.forEach((f, i) => {
      p!.set(f, i);
      if (f.includes(' ')) p!.set(f.replace(/ /g, ''), i);
    });
    positions.set(columns, p);
  }
  return p;
}

/**
 * A row of a table-shaped log (W3C, CSV) as the Event rules see, read straight from its values: what
 * `new EvtxEvent(toRaw())` gives, without building the object. Most rows match no rule; `toRaw`
 * builds the object for those that do. The row's columns are its EventData; a subclass says what
 * its System part is, and may add one field computed from the row (`extra`).
 */
export abstract class ColumnEvent implements RawEvent {
  private system: Map<string, unknown> | undefined;
  private all: unknown[] | undefined;

  constructor(protected readonly columns: readonly string[], protected readonly vals: readonly string[]) {}

  /** The text of a column, by name. */
  protected data(name: string): string | undefined {
    const i = positionsOf(this.columns).get(name);
    return i !== undefined && i < this.vals.length ? this.vals[i] : undefined;
  }

  /** Whether the rows have a column of this name. */
  hasColumn(name: string): boolean {
    return positionsOf(this.columns).has(name);
  }

  /** A column's value, undefined when the row has no such column (unlike `get`, never a System field). */
  column(name: string): string | null | undefined {
    const i = positionsOf(this.columns).get(name);
    return i !== undefined && i < this.vals.length ? this.cell(i) : undefined;
  }

  /** A column's value as a field of the event (a subclass may read an empty cell as no value: null). */
  protected cell(i: number): string | null {
    return this.vals[i]!;
  }

  /** The System element of the row's event in evtx_dump's shape. */
  protected abstract systemElement(): Record<string, unknown>;

  /** A field computed from the row that stands instead of a column of its name (W3C's RequestUri), if any. */
  protected extra(): { name: string; value: string } | undefined {
    return undefined;
  }

  abstract toRaw(): unknown;

  private systemFields(): Map<string, unknown> {
    return (this.system ??= flattenEvtxEvent({ Event: { System: this.systemElement() } }));
  }

  get(field: string): unknown {
    const extra = this.extra();
    if (extra && field === extra.name) return extra.value;
    const i = positionsOf(this.columns).get(field);
    return i !== undefined && i < this.vals.length ? this.cell(i) : this.systemFields().get(field);
  }

  values(): readonly unknown[] {
    if (!this.all) {
      const at = positionsOf(this.columns);
      const all: unknown[] = [];
      // As in the object: a column named like a system field stands instead of it.
      for (const [name, v] of this.systemFields()) if (!at.has(name)) all.push(v);
      const extra = this.extra();
      const n = Math.min(this.vals.length, this.columns.length);
      for (let i = 0; i < n; i++) {
        const name = this.columns[i]!;
        if (at.get(name) === i && name !== extra?.name) all.push(this.cell(i));
      }
      if (extra) all.push(extra.value);
      this.all = all;
    }
    return this.all;
  }

  fields(): ReadonlyMap<string, unknown> {
    const fields = new Map(this.systemFields());
    for (const [name, i] of positionsOf(this.columns)) if (i < this.vals.length) fields.set(name, this.cell(i));
    const extra = this.extra();
    if (extra) fields.set(extra.name, extra.value);
    return fields;
  }
}
