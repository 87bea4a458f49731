import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { CHUNK_HEADER_SIZE, CHUNK_MAGIC, CHUNK_SIZE, FILE_HEADER_SIZE, FILE_MAGIC, HAS_MORE_FLAG, RECORD_MAGIC, Token, ValueType as V } from './constants.js';

/**
 * Writes EVTX files: the samples the README runs on, and large inputs for benchmarks. Each chunk
 * defines the templates it uses once, inline, as Windows does; records then carry only values.
 */

export type SampleValue = string | number | bigint;

export interface SampleEvent {
  provider: string;
  providerGuid: string;
  eventId: number;
  version?: number;
  level: number;
  task: number;
  opcode?: number;
  keywords: bigint;
  /** Milliseconds since 1970. */
  time: number;
  processId: number;
  threadId: number;
  channel: string;
  computer: string;
  userSid?: string;
  /** EventData, as <Data Name="…"> elements (an empty name: an unnamed <Data>, as classic providers write). Numbers are written as UInt32/UInt64, strings as UTF-16. */
  data: [string, SampleValue][];
}

// ---- BinXML building ----

class Bytes {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }
  u8(n: number): this {
    return this.push(Buffer.from([n]));
  }
  u16(n: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    return this.push(b);
  }
  u32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return this.push(b);
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function nameHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 65599) + name.charCodeAt(i)) >>> 0;
  return h & 0xffff;
}

/** A node of a template: element with attributes and content, where values are substitution slots. */
/** An attribute's value is a substitution slot (number) or fixed text (string). */
type Part = { el: string; attrs?: [string, number | string][]; children?: Part[]; slot?: number; text?: string };

/** A name defined in place: its offset field points at the structure right after it. */
function inlineName(name: string, structAt: number): Buffer {
  return new Bytes().u32(structAt).u32(0).u16(nameHash(name)).u16(name.length).push(Buffer.from(name + '\0', 'utf16le')).bytes();
}

/** Serialises a template's element tree; `at` is the chunk offset where its first byte will land. */
function element(p: Part, at: number): Buffer {
  const out = new Bytes();
  const hasAttrs = (p.attrs?.length ?? 0) > 0;
  out.u8(Token.OpenStartElement | (hasAttrs ? HAS_MORE_FLAG : 0)).u16(0xffff);
  const sizeAt = out.length;
  out.u32(0); // data size, set below
  out.push(inlineName(p.el, at + out.length + 4));
  if (hasAttrs) {
    const list = new Bytes();
    const listAt = at + out.length + 4;
    p.attrs!.forEach(([attr, slot], i) => {
      list.u8(Token.Attribute | (i === p.attrs!.length - 1 ? 0 : HAS_MORE_FLAG));
      list.push(inlineName(attr, listAt + list.length + 4));
      if (typeof slot === 'number') list.u8(Token.OptionalSubstitution).u16(slot).u8(0);
      else list.u8(Token.Value).u8(V.String).u16(slot.length).push(Buffer.from(slot, 'utf16le'));
    });
    out.u32(list.length).push(list.bytes());
  }
  if (!p.children?.length && p.slot === undefined && p.text === undefined) {
    out.u8(Token.CloseEmptyElement);
  } else {
    out.u8(Token.CloseStartElement);
    if (p.text !== undefined) out.u8(Token.Value).u8(V.String).u16(p.text.length).push(Buffer.from(p.text, 'utf16le'));
    if (p.slot !== undefined) out.u8(Token.OptionalSubstitution).u16(p.slot).u8(0);
    for (const c of p.children ?? []) out.push(element(c, at + out.length));
    out.u8(Token.EndElement);
  }
  const buf = out.bytes();
  buf.writeUInt32LE(buf.length - sizeAt - 4, sizeAt);
  return buf;
}

interface Template {
  key: string;
  guid: Buffer;
  build: (at: number) => Buffer;
}

function templateFor(e: SampleEvent): Template {
  const names = e.data.map(([n]) => n);
  const key = [e.provider, e.eventId, ...names].join('\u0001');
  const slot = (el: string, n: number): Part => ({ el, slot: n });
  const root: Part = {
    el: 'Event',
    attrs: [['xmlns', 'http://schemas.microsoft.com/win/2004/08/events/event']],
    children: [
      {
        el: 'System',
        children: [
          { el: 'Provider', attrs: [['Name', 0], ['Guid', 1]] },
          slot('EventID', 2), slot('Version', 3), slot('Level', 4), slot('Task', 5), slot('Opcode', 6), slot('Keywords', 7),
          { el: 'TimeCreated', attrs: [['SystemTime', 8]] },
          slot('EventRecordID', 9),
          { el: 'Correlation' },
          { el: 'Execution', attrs: [['ProcessID', 10], ['ThreadID', 11]] },
          slot('Channel', 12), slot('Computer', 13),
          { el: 'Security', attrs: [['UserID', 14]] },
        ],
      },
      { el: 'EventData', children: names.map((n, i) => ({ el: 'Data', ...(n ? { attrs: [['Name', n]] as [string, number | string][] } : {}), slot: 15 + i })) },
    ],
  };
  const guid = Buffer.alloc(16);
  Buffer.from(key).copy(guid, 0, 0, 16);
  return {
    key,
    guid,
    build: (at) => Buffer.concat([Buffer.from([Token.FragmentHeader, 1, 1, 0]), element(root, at + 4), Buffer.from([Token.EOF])]),
  };
}

// ---- values ----

function guidBytes(g: string): Buffer {
  const h = g.replace(/[{}-]/g, '');
  const b = Buffer.from(h, 'hex');
  b.writeUInt32LE(parseInt(h.slice(0, 8), 16), 0);
  b.writeUInt16LE(parseInt(h.slice(8, 12), 16), 4);
  b.writeUInt16LE(parseInt(h.slice(12, 16), 16), 6);
  return b;
}

function sidBytes(s: string): Buffer {
  const [, rev, auth, ...subs] = s.split('-');
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = Number(rev);
  b[1] = subs.length;
  b.writeUIntBE(Number(auth), 2, 6);
  subs.forEach((x, i) => b.writeUInt32LE(Number(x), 8 + 4 * i));
  return b;
}

function filetimeBytes(ms: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE((BigInt(Math.round(ms)) + 11644473600000n) * 10000n);
  return b;
}

const str = (s: string): [number, Buffer] => [V.String, Buffer.from(s, 'utf16le')];
const num = (type: number, n: number | bigint, size: number): [number, Buffer] => {
  const b = Buffer.alloc(size);
  if (size === 8) b.writeBigUInt64LE(BigInt(n));
  else if (size === 4) b.writeUInt32LE(Number(n));
  else if (size === 2) b.writeUInt16LE(Number(n));
  else b.writeUInt8(Number(n));
  return [type, b];
};

function values(e: SampleEvent, recordId: bigint): [number, Buffer][] {
  const v: [number, Buffer][] = [
    str(e.provider), [V.Guid, guidBytes(e.providerGuid)], num(V.UInt16, e.eventId, 2), num(V.UInt8, e.version ?? 0, 1),
    num(V.UInt8, e.level, 1), num(V.UInt16, e.task, 2), num(V.UInt8, e.opcode ?? 0, 1), num(V.HexInt64, e.keywords, 8),
    [V.FileTime, filetimeBytes(e.time)], num(V.UInt64, recordId, 8), num(V.UInt32, e.processId, 4), num(V.UInt32, e.threadId, 4),
    str(e.channel), str(e.computer), e.userSid ? [V.Sid, sidBytes(e.userSid)] : [V.Null, Buffer.alloc(0)],
  ];
  for (const [, value] of e.data) {
    if (typeof value === 'string') v.push(str(value));
    else if (typeof value === 'bigint' || value > 0xffffffff) v.push(num(V.UInt64, value, 8));
    else v.push(num(V.UInt32, value, 4));
  }
  return v;
}

// ---- records, chunks, file ----

/** A record's BinXML at chunk offset `at`; defines the event's template inline if the chunk lacks it. */
function recordBinXml(e: SampleEvent, recordId: bigint, chunkTemplates: ReadonlyMap<string, number>, at: number): { binxml: Buffer; defined?: [string, number] } {
  const t = templateFor(e);
  const head = new Bytes().u8(Token.FragmentHeader).u8(1).u8(1).u8(0).u8(Token.TemplateInstance).u8(1).u32(0);
  const known = chunkTemplates.get(t.key);
  const parts: Buffer[] = [];
  let defined: [string, number] | undefined;
  if (known !== undefined) {
    head.u32(known);
  } else {
    const defAt = at + head.length + 4;
    head.u32(defAt);
    const data = t.build(defAt + 24);
    parts.push(new Bytes().u32(0).push(t.guid).u32(data.length).push(data).bytes());
    defined = [t.key, defAt];
  }
  const vals = values(e, recordId);
  const desc = new Bytes().u32(vals.length);
  for (const [type, b] of vals) desc.u16(b.length).u8(type).u8(0);
  return { binxml: Buffer.concat([head.bytes(), ...parts, desc.bytes(), ...vals.map(([, b]) => b), Buffer.from([Token.EOF])]), defined };
}

/** Writes events to an EVTX file, chunk by chunk (memory stays at one chunk). Returns the record count. */
export function writeEvtx(path: string, events: Iterable<SampleEvent>): number {
  const fd = openSync(path, 'w');
  let chunkIndex = 0;
  let recordId = 1n;
  let chunk = Buffer.alloc(CHUNK_SIZE);
  let pos = CHUNK_HEADER_SIZE;
  let templates = new Map<string, number>();
  let first = recordId;
  let lastRecordAt = 0;
  const flush = () => {
    if (pos === CHUNK_HEADER_SIZE) return;
    chunk.write(CHUNK_MAGIC, 0, 'latin1');
    chunk.writeBigUInt64LE(first, 8);
    chunk.writeBigUInt64LE(recordId - 1n, 16);
    chunk.writeBigUInt64LE(first, 24);
    chunk.writeBigUInt64LE(recordId - 1n, 32);
    chunk.writeUInt32LE(128, 40);
    chunk.writeUInt32LE(lastRecordAt, 44);
    chunk.writeUInt32LE(pos, 48);
    chunk.writeUInt32LE(crc32(chunk.subarray(CHUNK_HEADER_SIZE, pos)), 52);
    chunk.writeUInt32LE(1, 120);
    chunk.writeUInt32LE(crc32(chunk.subarray(128, CHUNK_HEADER_SIZE), crc32(chunk.subarray(0, 120))), 124);
    writeSync(fd, chunk, 0, CHUNK_SIZE, FILE_HEADER_SIZE + chunkIndex * CHUNK_SIZE);
    chunkIndex++;
    chunk = Buffer.alloc(CHUNK_SIZE);
    pos = CHUNK_HEADER_SIZE;
    templates = new Map();
    first = recordId;
  };
  for (const e of events) {
    let r = recordBinXml(e, recordId, templates, pos + 24);
    let size = (24 + r.binxml.length + 4 + 7) & ~7;
    if (pos + size > CHUNK_SIZE) {
      flush();
      r = recordBinXml(e, recordId, templates, pos + 24);
      size = (24 + r.binxml.length + 4 + 7) & ~7;
      if (pos + size > CHUNK_SIZE) throw new Error(`event ${recordId} does not fit in one chunk`);
    }
    if (r.defined) templates.set(...r.defined);
    chunk.writeUInt32LE(RECORD_MAGIC, pos);
    chunk.writeUInt32LE(size, pos + 4);
    chunk.writeBigUInt64LE(recordId, pos + 8);
    filetimeBytes(e.time).copy(chunk, pos + 16);
    r.binxml.copy(chunk, pos + 24);
    chunk.writeUInt32LE(size, pos + size - 4);
    lastRecordAt = pos;
    pos += size;
    recordId++;
  }
  flush();
  const header = Buffer.alloc(FILE_HEADER_SIZE);
  header.write(FILE_MAGIC, 0, 'latin1');
  header.writeBigUInt64LE(0n, 8);
  header.writeBigUInt64LE(BigInt(Math.max(0, chunkIndex - 1)), 16);
  header.writeBigUInt64LE(recordId, 24);
  header.writeUInt32LE(128, 32);
  header.writeUInt16LE(1, 36);
  header.writeUInt16LE(3, 38);
  header.writeUInt16LE(FILE_HEADER_SIZE, 40);
  header.writeUInt16LE(chunkIndex, 42);
  header.writeUInt32LE(crc32(header.subarray(0, 120)), 124);
  writeSync(fd, header, 0, FILE_HEADER_SIZE, 0);
  closeSync(fd);
  return Number(recordId - 1n);
}
