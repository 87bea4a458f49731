import { toJson } from '../../common/json.js';
import type { BinXmlNode, BinXmlParser } from './binxml.js';
import type { ByteBuffer } from './byte-buffer.js';
import type { EvtxRecord, RenderMode } from './chunk.js';
import { JsonSink } from './json-sink.js';
import { expandRecord, fillShape, fillShapeInto, shapeOf } from './json-shape.js';
import { JsonTextSink, NeedsTree } from './json-text-sink.js';
import { newBudget, walk } from './walk.js';
import { XmlSink } from './xml-sink.js';

/** Renders a record into `record` (event or text) or, for JSON with `out`, as a JSON line into `out`. */
export function renderRecord(parser: BinXmlParser, nodes: BinXmlNode[], buf: Buffer, mode: RenderMode, record: EvtxRecord, out: ByteBuffer | undefined): void {
  if (mode === 'xml') {
    const sink = new XmlSink(buf);
    walk(parser, nodes, sink, newBudget());
    record.text = sink.toString();
    return;
  }
  if (mode === 'json') {
    const text = jsonText(parser, nodes, buf, out);
    if (out) {
      if (text !== undefined) out.text(text);
      out.ensure(1);
      out.buf[out.pos++] = 0x0a;
    } else record.text = text;
    return;
  }
  const sink = new JsonSink(buf);
  walk(parser, nodes, sink, newBudget());
  record.event = sink.root;
}

/**
 * evtx_dump JSON of a record, by the fastest way that serves: the shape its templates share (written
 * straight into `out` when given, then nothing is returned), the text writer, or the object model.
 */
function jsonText(parser: BinXmlParser, nodes: BinXmlNode[], buf: Buffer, out: ByteBuffer | undefined): string | undefined {
  const expanded = expandRecord(parser, nodes);
  if (expanded) {
    const shape = shapeOf(parser, expanded, buf);
    if (shape !== null && shape !== 'tree') {
      if (!out) return fillShape(shape, buf, expanded);
      const start = out.pos;
      try {
        fillShapeInto(shape, buf, expanded, out);
      } catch (e) {
        out.pos = start; // nothing of a record that fails is written
        throw e;
      }
      return undefined;
    }
  }
  try {
    const sink = new JsonTextSink(buf);
    walk(parser, nodes, sink, newBudget());
    return sink.toString();
  } catch (e) {
    if (!(e instanceof NeedsTree)) throw e;
  }
  const sink = new JsonSink(buf);
  walk(parser, nodes, sink, newBudget());
  return toJson(sink.root);
}
