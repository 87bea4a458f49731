import { BinXmlParser, type BinXmlNode, NodeKind, type TemplateValues } from './binxml.js';
import { ValueType } from './constants.js';
import { EvtxFormatError } from './errors.js';

/**
 * Receives a record's XML as events, with substitutions resolved to value references in the chunk
 * buffer. The JSON and XML renderers are sinks; the walk is shared.
 */
export interface BinXmlSink {
  /**
   * Whether an element whose content is an optional substitution with no value is still opened
   * (empty): evtx_dump and python-evtx keep it; Event Viewer and libevtx leave it out (the default).
   */
  readonly keepsEmptyOptional?: boolean;
  open(name: string, attrs: readonly ResolvedAttribute[]): void;
  close(): void;
  /**
   * A substitution value (never Null, never BinXml) at [off, off+size) of the chunk buffer; `slot`
   * is its slot number when the walk has the record's instances (see RecordInstances), else -2.
   */
  value(type: number, off: number, size: number, slot: number): void;
  text(text: string): void;
  entity(name: string): void;
  charRef(code: number): void;
  cdata(text: string): void;
  pi(target: string, data: string): void;
  /** A value as plain text, for attributes made of several parts. */
  valueText(type: number, off: number, size: number): string;
}

/** An attribute is either one substitution value (kept typed) or text. */
export interface ResolvedAttribute {
  name: string;
  type: number;
  off: number;
  size: number;
  /** Set when the attribute is text rather than a single value. */
  text: string | undefined;
  /** Index of the value in the record's own template instance; -1 for fixed text, -2 for text made from values. */
  slot: number;
}

const NO_VALUES: TemplateValues = { types: [], offsets: [], sizes: [] };
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function entityText(name: string): string {
  return ENTITIES[name] ?? `&${name};`;
}

/**
 * Most nodes one record may expand to. Templates can instantiate templates, so a hostile 64 KiB
 * record could otherwise expand exponentially; real records stay in the hundreds.
 */
export const MAX_NODES_PER_RECORD = 100_000;

export interface WalkBudget {
  nodesLeft: number;
}

export function newBudget(): WalkBudget {
  return { nodesLeft: MAX_NODES_PER_RECORD };
}

/**
 * A record taken apart: its template instances in walk order (the record's own first, then those
 * inside its BinXml values) and those values' parsed documents by their offset.
 */
export interface RecordInstances {
  values: TemplateValues[];
  docs: Map<number, BinXmlNode[]>;
}

/** Slot numbers say which instance (high bits) and which value in it (low 16 bits). */
export const SLOT_INSTANCE_SHIFT = 16;

/**
 * Walks nodes into a sink. With `record`, values of its instances are passed with their slot
 * number, so that a sink can tell which value it is writing; others get slot -2.
 */
export function walk(parser: BinXmlParser, nodes: readonly BinXmlNode[], sink: BinXmlSink, budget: WalkBudget, values = NO_VALUES, record?: RecordInstances): void {
  new Walker(parser, sink, budget, record).nodes(nodes, values, 0);
}

class Walker {
  constructor(
    private readonly parser: BinXmlParser,
    private readonly sink: BinXmlSink,
    private readonly budget: WalkBudget,
    private readonly record: RecordInstances | undefined,
  ) {}

  private slot(values: TemplateValues, i: number): number {
    const instance = this.record ? this.record.values.indexOf(values) : -1;
    return instance < 0 ? -2 : (instance << SLOT_INSTANCE_SHIFT) | i;
  }

  nodes(nodes: readonly BinXmlNode[], values: TemplateValues, depth: number): void {
    if ((this.budget.nodesLeft -= nodes.length) < 0) throw new EvtxFormatError(`record expands to more than ${MAX_NODES_PER_RECORD} XML nodes`);
    const sink = this.sink;
    for (const node of nodes) {
      switch (node.kind) {
        case NodeKind.Element: {
          if (!sink.keepsEmptyOptional && isElidedOptional(node.children, values)) break;
          const attrs: ResolvedAttribute[] = [];
          for (const a of node.attrs) {
            const r = resolveAttribute(a.name, a.value, values, sink, (i) => this.slot(values, i));
            if (r) attrs.push(r);
          }
          sink.open(node.name, attrs);
          this.nodes(node.children, values, depth);
          sink.close();
          break;
        }
        case NodeKind.Text: sink.text(node.text); break;
        case NodeKind.Entity: sink.entity(node.name); break;
        case NodeKind.CharRef: sink.charRef(node.code); break;
        case NodeKind.CData: sink.cdata(node.text); break;
        case NodeKind.PI: sink.pi(node.target, node.data); break;
        case NodeKind.Template: this.nodes(node.template.nodes, node.values, depth + 1); break;
        case NodeKind.Substitution: {
          const i = node.index;
          if (i >= values.types.length) break;
          const type = values.types[i]!;
          const off = values.offsets[i]!;
          const size = values.sizes[i]!;
          if (type === ValueType.Null) break;
          if (type === ValueType.BinXml) {
            if (size > 0) this.nodes(this.record?.docs.get(off) ?? this.parser.parseDocument(off, off + size, depth + 1), NO_VALUES, depth + 1);
          } else sink.value(type, off, size, this.slot(values, i));
          break;
        }
      }
    }
  }
}

/**
 * An element whose whole content is an optional substitution with a NULL value is not created
 * (MS-EVEN6; Event Viewer and evtxexport drop it, e.g. an empty <Binary>); sinks that keep it say so.
 */
function isElidedOptional(children: readonly BinXmlNode[], values: TemplateValues): boolean {
  if (children.length !== 1) return false;
  const c = children[0]!;
  if (c.kind !== NodeKind.Substitution || !c.optional) return false;
  return c.index >= values.types.length || values.types[c.index] === ValueType.Null;
}

function resolveAttribute(name: string, parts: readonly BinXmlNode[], values: TemplateValues, sink: BinXmlSink, slotOf: (i: number) => number): ResolvedAttribute | undefined {
  if (parts.length === 1 && parts[0]!.kind === NodeKind.Substitution) {
    const i = parts[0]!.index;
    if (i >= values.types.length) return undefined;
    const type = values.types[i]!;
    if (type === ValueType.Null) return undefined;
    return { name, type, off: values.offsets[i]!, size: values.sizes[i]!, text: undefined, slot: slotOf(i) };
  }
  let text = '';
  let fromValues = false;
  for (const p of parts) {
    switch (p.kind) {
      case NodeKind.Text: text += p.text; break;
      case NodeKind.Entity: text += entityText(p.name); break;
      case NodeKind.CharRef: text += String.fromCharCode(p.code); break;
      case NodeKind.Substitution: {
        const i = p.index;
        if (i < values.types.length && values.types[i] !== ValueType.Null) {
          text += sink.valueText(values.types[i]!, values.offsets[i]!, values.sizes[i]!);
          fromValues = true;
        }
        break;
      }
      default: break;
    }
  }
  // Text built from values is no single value: slot -2.
  return { name, type: ValueType.String, off: 0, size: 0, text, slot: fromValues ? -2 : -1 };
}
