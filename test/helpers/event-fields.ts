import { XMLParser } from 'fast-xml-parser';

/** The fields the oracle comparison looks at, normalised so that formatting choices do not count. */
export interface EventFields {
  recordId: string;
  time: string;
  eventId: string;
  provider: string;
  channel: string;
  computer: string;
  /** EventData/UserData values by name (path for UserData), in document order per name. */
  data: Record<string, string[]>;
}

const GUID = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i;
const TIME = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?Z?$/;

/**
 * Normalises a value: whitespace collapsed; hex integers as decimal (evtxexport pads them, evtx_dump
 * does not); GUIDs upper-case without braces (python-evtx lower-cases them); times to the microsecond
 * (evtxexport prints 100 ns, python-evtx and evtx_dump microseconds).
 */
export function norm(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(norm).join(',');
  let s = String(v).replace(/\s+/g, ' ').trim();
  if (/^0x[0-9a-f]+$/i.test(s)) return BigInt(s).toString();
  let m = GUID.exec(s);
  if (m) return m[1]!.toUpperCase();
  m = TIME.exec(s);
  if (m) s = `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0').slice(0, 6)}`;
  return s;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function push(data: Record<string, string[]>, key: string, v: unknown): void {
  (data[key] ??= []).push(norm(v));
}

// ---- our JSON model (evtx_dump shape) ----

function jsonText(v: unknown): unknown {
  return isObj(v) ? v['#text'] : v;
}

/** Names that evtx_dump suffixed (`X_1`, `X_2` for earlier repeats of `X`) go back under `X`, in order. */
function unsuffixedEntries(obj: Obj): [string, unknown][] {
  const keys = Object.keys(obj).filter((k) => k !== '#attributes');
  const groups = new Map<string, [number, unknown][]>();
  for (const k of keys) {
    const m = /^(.*)_(\d+)$/.exec(k);
    const base = m && keys.includes(m[1]!) ? m[1]! : k;
    const order = base === k ? Number.MAX_SAFE_INTEGER : Number(m![2]);
    const list = groups.get(base) ?? [];
    list.push([order, obj[k]]);
    groups.set(base, list);
  }
  const out: [string, unknown][] = [];
  for (const [base, list] of groups) for (const [, v] of list.sort((a, b) => a[0] - b[0])) out.push([base, v]);
  return out;
}

function flattenJson(data: Record<string, string[]>, prefix: string, node: unknown): void {
  if (!isObj(node)) {
    push(data, prefix, node);
    return;
  }
  for (const [k, v] of unsuffixedEntries(node)) {
    if (k === '#text') push(data, prefix, v);
    else if (k === 'Data' && isObj(v) && Array.isArray(v['#text'])) for (const x of v['#text']) push(data, `${prefix}/Data`, x);
    else if (isObj(v) && Object.keys(v).every((x) => x === '#attributes' || x === '#text')) push(data, `${prefix}/${k}`, v['#text']);
    else flattenJson(data, `${prefix}/${k}`, v);
  }
}

export function fieldsFromJson(event: unknown): EventFields {
  const e = (event as Obj).Event as Obj;
  const sys = e.System as Obj;
  const attrs = (v: unknown) => (isObj(v) ? ((v['#attributes'] as Obj) ?? {}) : {});
  const data: Record<string, string[]> = {};
  // An empty <EventData/> is null: it has no values to compare.
  if (isObj(e.EventData)) flattenJson(data, 'EventData', e.EventData);
  if (isObj(e.UserData)) flattenJson(data, 'UserData', e.UserData);
  return {
    recordId: norm(sys.EventRecordID),
    time: norm(attrs(sys.TimeCreated).SystemTime),
    eventId: norm(jsonText(sys.EventID)),
    provider: norm(attrs(sys.Provider).Name),
    channel: norm(sys.Channel),
    computer: norm(sys.Computer),
    data,
  };
}

// ---- oracle XML (evtxexport, python-evtx) ----

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
});

function xmlText(v: unknown): unknown {
  if (Array.isArray(v)) return xmlText(v[0]);
  return isObj(v) ? v['#text'] : v;
}

function flattenXml(data: Record<string, string[]>, prefix: string, node: unknown): void {
  if (!isObj(node)) {
    push(data, prefix, node);
    return;
  }
  for (const [k, list] of Object.entries(node)) {
    if (k.startsWith('@') || k === '#text') continue;
    for (const child of Array.isArray(list) ? list : [list]) {
      if (k === 'Data' && isObj(child) && child['@Name'] !== undefined) push(data, `${prefix}/${child['@Name']}`, child['#text']);
      else if (!isObj(child) || Object.keys(child).every((x) => x.startsWith('@') || x === '#text')) push(data, `${prefix}/${k}`, xmlText(child));
      else flattenXml(data, `${prefix}/${k}`, child);
    }
  }
}

/** Parses an oracle's XML output (any number of <Event> elements) into fields per event. */
export function fieldsFromXml(text: string): EventFields[] {
  const body = text
    .replace(/<\?xml[^>]*\?>/, '')
    .replace(/<\/?Events>/g, '')
    .replace(/^evtxexport[^\n]*\n/, '')
    // evtxexport writes values that hold XML (e.g. LiveId's SOAP envelopes) without escaping them,
    // which is not well-formed XML; escape such Data content so that it reads back as the text it is.
    .replace(/(<Data(?: [^>]*)?>)([^\n]*?)(<\/Data>)/g, (m, open: string, inner: string, close: string) =>
      inner.includes('<') ? open + inner.replace(/</g, '&lt;').replace(/>/g, '&gt;') + close : m);
  const root = (xml.parse(`<Root>${body}</Root>`) as Obj).Root as Obj;
  const events = root?.Event === undefined ? [] : Array.isArray(root.Event) ? root.Event : [root.Event];
  return events.map((ev: Obj) => {
    const one = (v: unknown) => (Array.isArray(v) ? v[0] : v) as Obj;
    const sys = one(ev.System);
    const data: Record<string, string[]> = {};
    if (isObj(one(ev.EventData))) flattenXml(data, 'EventData', one(ev.EventData));
    if (isObj(one(ev.UserData))) flattenXml(data, 'UserData', one(ev.UserData));
    return {
      recordId: norm(xmlText(sys.EventRecordID)),
      time: norm(one(sys.TimeCreated)?.['@SystemTime']),
      eventId: norm(xmlText(sys.EventID)),
      provider: norm(one(sys.Provider)?.['@Name']),
      channel: norm(xmlText(sys.Channel)),
      computer: norm(xmlText(sys.Computer)),
      data,
    };
  });
}
