import { toJson } from '../../common/json.js';
import { EvtxEvent, type RawEvent } from '../event.js';
import { fieldShapeOf } from './field-shape.js';
import { EvtxRecordView } from './record-view.js';
import type { BinXmlNode, BinXmlParser } from './binxml.js';
import { ByteBuffer } from './byte-buffer.js';
import type { EvtxRecord, RenderMode } from './chunk.js';
import { JsonSink } from './json-sink.js';
import { expandRecord, fillShapeInto, shapeOf } from './json-shape.js';
import { JsonTextSink, NeedsTree } from './json-text-sink.js';
import { newBudget, walk } from './walk.js';
import { XmlSink } from './xml-sink.js';

/**
 * Renders a record: into `record.event` (event mode), `record.view` (view mode), `record.text` (xml,
 * and json without `out`), or, for json with `out`, as a UTF-8 JSON line straight into `out`.
 */
export function renderRecord(parser: BinXmlParser, nodes: BinXmlNode[], buf: Buffer, mode: RenderMode, record: EvtxRecord, out: ByteBuffer | undefined): void {
  if (mode === 'xml') {
    const sink = new XmlSink(buf);
    walk(parser, nodes, sink, newBudget());
    record.text = sink.toString();
  } else if (mode === 'json') {
    if (out) {
      // Lines are written as the chunk is parsed, before its records are handed on.
      writeJson(parser, nodes, buf, out);
      out.byte(0x0a);
    } else {
      const own = new ByteBuffer(1024);
      writeJson(parser, nodes, buf, own);
      record.text = own.toString();
    }
  } else if (mode === 'view') {
    record.view = recordView(parser, nodes, buf);
  } else {
    const sink = new JsonSink(buf);
    walk(parser, nodes, sink, newBudget());
    record.event = sink.root;
  }
}

/** The Event rules see of a record: read by its kind's field shape where there is one, else over the object model. */
function recordView(parser: BinXmlParser, nodes: BinXmlNode[], buf: Buffer): RawEvent {
  const expanded = expandRecord(parser, nodes);
  // One closure per record (made for every event a hunt reads): the object, or the JSON text as
  // `spoor dump` writes it (a ClickHouse row keeps it), several times faster than printing the object.
  const render = (as: 'tree' | 'json') => {
    if (as === 'json') {
      jsonScratch.pos = 0;
      writeJson(parser, nodes, buf, jsonScratch);
      return jsonScratch.toString();
    }
    const sink = new JsonSink(buf);
    walk(parser, nodes, sink, newBudget(), undefined, expanded);
    return sink.root;
  };
  const shape = expanded && fieldShapeOf(parser, expanded, buf);
  return shape ? new EvtxRecordView(shape, buf, expanded, render) : new EvtxEvent(render('tree'));
}

/** The JSON text of one record at a time is written here (its string is made from it at once). */
const jsonScratch = new ByteBuffer(64 * 1024);

/**
 * evtx_dump JSON of a record into `out`, by the fastest way that serves: the shape its templates
 * share, the text writer, or the object model. A record that fails leaves nothing in `out`.
 */
function writeJson(parser: BinXmlParser, nodes: BinXmlNode[], buf: Buffer, out: ByteBuffer): void {
  const expanded = expandRecord(parser, nodes);
  if (expanded) {
    const shape = shapeOf(parser, expanded, buf);
    if (shape !== null && shape !== 'tree') {
      const start = out.pos;
      try {
        fillShapeInto(shape, buf, expanded, out);
      } catch (e) {
        out.pos = start;
        throw e;
      }
      return;
    }
  }
  // The nested documents expandRecord parsed are reused, not parsed again.
  try {
    const sink = new JsonTextSink(buf);
    walk(parser, nodes, sink, newBudget(), undefined, expanded);
    out.text(sink.toString());
    return;
  } catch (e) {
    if (!(e instanceof NeedsTree)) throw e;
  }
  const sink = new JsonSink(buf);
  walk(parser, nodes, sink, newBudget(), undefined, expanded);
  out.text(toJson(sink.root));
}
