import { XMLParser } from 'fast-xml-parser';
import { readTextBlocks } from './text-blocks.js';

/** An <Event> element larger than this is reported and skipped. */
const MAX_EVENT_CHARS = 16 * 1024 * 1024;

const OPEN = /<(\w+:)?Event[\s>]/g;
const CLOSE = /<\/(\w+:)?Event\s*>/g;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: '#attributes',
  textNodeName: '#text',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // No entity expansion beyond XML's own five: a hostile export cannot grow itself.
  processEntities: true,
  htmlEntities: false,
  isArray: (name) => name === 'Data',
});

/**
 * Reads Windows events exported as XML (Event Viewer "Save as XML", `wevtutil qe /f:xml`,
 * `spoor dump --format xml`): each <Event> element, a block of the file at a time, in evtx_dump's
 * shape. Problems are reported by the event's position in the file.
 */
export function* readXmlEvents(file: string, onError: (where: string, message: string) => void): Generator<unknown> {
  let text = '';
  let index = 0;
  for (const block of readTextBlocks(file)) {
    text += block;
    let at = 0;
    for (;;) {
      OPEN.lastIndex = at;
      const open = OPEN.exec(text);
      if (!open) {
        at = Math.max(at, text.length - 32); // the start of a tag may straddle blocks
        break;
      }
      const start = open.index;
      CLOSE.lastIndex = start;
      const close = CLOSE.exec(text);
      if (!close) {
        at = start;
        if (text.length - start > MAX_EVENT_CHARS) {
          onError(`event ${index + 1}`, `an <Event> element larger than ${MAX_EVENT_CHARS} characters; skipped`);
          at = text.length;
        }
        break;
      }
      const end = close.index + close[0].length;
      index++;
      const event = parseEvent(text.slice(start, end));
      if (typeof event === 'string') onError(`event ${index}`, event);
      else yield event;
      at = end;
    }
    text = text.slice(at);
  }
}

/** One <Event> element in evtx_dump's shape, or what is wrong with it. */
export function parseEvent(xml: string): unknown {
  let doc: Obj;
  try {
    doc = parser.parse(xml) as Obj;
  } catch (e) {
    return `invalid XML: ${(e as Error).message}`;
  }
  const event = doc.Event;
  if (!isObj(event)) return 'not a Windows <Event>';
  const out: Obj = {};
  if (isObj(event.System)) out.System = systemPart(event.System);
  if (event.EventData !== undefined) out.EventData = dataPart(event.EventData);
  if (isObj(event.UserData)) out.UserData = event.UserData;
  return { Event: out };
}

function systemPart(system: Obj): Obj {
  const out: Obj = {};
  for (const [name, v] of Object.entries(system)) {
    if (name === '#attributes') continue;
    // An element with text only is its text; one with attributes keeps them (as evtx_dump does).
    if (isObj(v) && Object.keys(v).every((k) => k === '#text')) out[name] = v['#text'];
    else out[name] = v === '' ? null : v;
  }
  return out;
}

/** <Data Name="X">v</Data> elements as X: v; unnamed ones as a Data list. */
function dataPart(data: unknown): Obj | null {
  if (!isObj(data)) return null;
  const out: Obj = {};
  const unnamed: unknown[] = [];
  for (const d of (data.Data as unknown[] | undefined) ?? []) {
    const name = isObj(d) && isObj(d['#attributes']) ? d['#attributes'].Name : undefined;
    const value = isObj(d) ? (d['#text'] ?? null) : d === '' ? null : d;
    if (typeof name === 'string') out[name] = value;
    else unnamed.push(value);
  }
  if (unnamed.length) out.Data = unnamed.length === 1 ? unnamed[0] : unnamed;
  for (const [k, v] of Object.entries(data)) if (k !== 'Data' && k !== '#attributes') out[k] = v;
  return out;
}
