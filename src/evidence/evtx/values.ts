import { ARRAY_FLAG, ValueType as V } from './constants.js';
import { EvtxFormatError } from './errors.js';

/** A decoded substitution value in the evtx_dump JSON model. 64-bit integers beyond 2^53 stay exact as bigint. */
export type EventValue = string | number | boolean | bigint | null | EventValue[];

const TWO_32 = 4294967296;
/** Seconds between 1601-01-01 (FILETIME epoch) and 1970-01-01. */
const FILETIME_EPOCH_S = 11644473600;
const HEX = '0123456789ABCDEF';

function need(size: number, min: number, type: number): void {
  if (size < min) throw new EvtxFormatError(`value of type 0x${type.toString(16)} has ${size} bytes, needs ${min}`);
}

/** UTF-16LE text without its trailing end-of-string characters. */
export function utf16(buf: Buffer, off: number, size: number): string {
  let end = off + (size & ~1);
  while (end > off && buf[end - 1] === 0 && buf[end - 2] === 0) end -= 2;
  return buf.toString('utf16le', off, end);
}

function ansi(buf: Buffer, off: number, size: number): string {
  let end = off + size;
  while (end > off && buf[end - 1] === 0) end--;
  return buf.toString('latin1', off, end);
}

export function readU64(buf: Buffer, off: number): number | bigint {
  const hi = buf.readUInt32LE(off + 4);
  if (hi < 0x200000) return hi * TWO_32 + buf.readUInt32LE(off);
  return buf.readBigUInt64LE(off);
}

function readI64(buf: Buffer, off: number): number | bigint {
  const hi = buf.readInt32LE(off + 4);
  if (hi >= -0x200000 && hi < 0x200000) return hi * TWO_32 + buf.readUInt32LE(off);
  return buf.readBigInt64LE(off);
}

function hex64(buf: Buffer, off: number, padded: boolean): string {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  if (padded) return '0x' + hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
  if (hi === 0) return '0x' + lo.toString(16);
  return '0x' + hi.toString(16) + lo.toString(16).padStart(8, '0');
}

function hex32(buf: Buffer, off: number, padded: boolean): string {
  const s = buf.readUInt32LE(off).toString(16);
  return '0x' + (padded ? s.padStart(8, '0') : s);
}

export function hexBytes(buf: Buffer, off: number, size: number): string {
  let s = '';
  for (let i = off; i < off + size; i++) {
    const b = buf[i]!;
    s += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return s;
}

function hexN(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
}

/** GUID as 8-4-4-4-12 upper-case hex, without braces. */
export function guid(buf: Buffer, off: number): string {
  return (
    hexN(buf.readUInt32LE(off), 8) + '-' + hexN(buf.readUInt16LE(off + 4), 4) + '-' +
    hexN(buf.readUInt16LE(off + 6), 4) + '-' + hexBytes(buf, off + 8, 2) + '-' + hexBytes(buf, off + 10, 6)
  );
}

/** Length in bytes of the SID at off, or -1 when it does not fit in `avail` bytes. */
function sidLength(buf: Buffer, off: number, avail: number): number {
  if (avail < 8) return -1;
  const len = 8 + 4 * buf[off + 1]!;
  return len <= avail ? len : -1;
}

export function sid(buf: Buffer, off: number, size: number): string {
  if (sidLength(buf, off, size) < 0) throw new EvtxFormatError(`SID of ${size} bytes is truncated`);
  const count = buf[off + 1]!;
  const authority = buf.readUIntBE(off + 2, 6);
  let s = 'S-' + buf[off]! + '-' + (authority >= TWO_32 ? '0x' + hexN(authority, 12) : authority);
  for (let i = 0; i < count; i++) s += '-' + buf.readUInt32LE(off + 8 + 4 * i);
  return s;
}

/** Cached date part: records come in time order, so most share their day with the previous one. */
let cachedDay = NaN;
let cachedDayText = '';

const pad2 = (n: number) => (n < 10 ? '0' : '') + n;

/** "YYYY-MM-DDTHH:MM:SS" for whole seconds since 1970 (years 0–9999; others through Date). */
function isoSeconds(seconds: number): string {
  const day = Math.floor(seconds / 86400);
  if (day !== cachedDay) {
    const iso = new Date(day * 86400000).toISOString();
    cachedDayText = iso.slice(0, iso.indexOf('T') + 1);
    cachedDay = day;
  }
  const s = seconds - day * 86400;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s - h * 3600) / 60);
  return cachedDayText + pad2(h) + ':' + pad2(m) + ':' + pad2(s - h * 3600 - m * 60);
}

/**
 * FILETIME as ISO-8601 UTC with `digits` fractional digits: 6 as evtx_dump prints it (truncated to
 * microseconds), 9 as evtxexport does (full 100 ns precision, zero-padded to nanoseconds).
 * Split arithmetic keeps the 64-bit tick count exact without BigInt.
 */
export function filetime(buf: Buffer, off: number, digits: 6 | 9): string {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  // ticks = hi * 2^32 + lo = hi * (42949 * 10^5 + 67296) + lo; seconds = ticks / 10^7
  const rest = hi * 67296 + lo; // < 2^49
  const restSeconds = Math.floor(rest / 10_000_000);
  const seconds = Math.floor(hi * 42949 / 100) + restSeconds; // hi*42949*10^5/10^7, fractional part carried below
  // hi * 42949 * 10^5 ticks = floor(hi*42949/100) s + ((hi*42949) % 100) * 10^5 ticks
  const carry = ((hi * 42949) % 100) * 100_000 + (rest - restSeconds * 10_000_000);
  const wholeSeconds = seconds + Math.floor(carry / 10_000_000) - FILETIME_EPOCH_S;
  const frac = carry % 10_000_000; // 100 ns ticks within the second
  const fracText = String(frac).padStart(7, '0');
  return isoSeconds(wholeSeconds) + '.' + (digits === 6 ? fracText.slice(0, 6) : fracText + '00') + 'Z';
}

/** SYSTEMTIME (millisecond precision) with 3 fractional digits as evtxexport prints it, or 6 as evtx_dump does. */
export function systemtime(buf: Buffer, off: number, digits: 3 | 6): string {
  const year = buf.readUInt16LE(off);
  const month = buf.readUInt16LE(off + 2);
  const day = buf.readUInt16LE(off + 6);
  const ms = Date.UTC(year, month - 1, day, buf.readUInt16LE(off + 8), buf.readUInt16LE(off + 10),
    buf.readUInt16LE(off + 12), buf.readUInt16LE(off + 14));
  if (!Number.isFinite(ms)) throw new EvtxFormatError('SYSTEMTIME out of range');
  const d = new Date(ms);
  if (year < 100) d.setUTCFullYear(year);
  const iso = d.toISOString();
  return iso.slice(0, iso.length - 1) + (digits === 6 ? '000' : '') + 'Z';
}

/** Shortest decimal that reads back as the same single-precision float, as Rust's ryu prints f32. */
function real32(buf: Buffer, off: number): number {
  const x = buf.readFloatLE(off);
  if (!Number.isFinite(x)) return x;
  for (let p = 1; p < 10; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

const FIXED_SIZE: Record<number, number> = {
  [V.Int8]: 1, [V.UInt8]: 1, [V.Int16]: 2, [V.UInt16]: 2, [V.Int32]: 4, [V.UInt32]: 4,
  [V.Int64]: 8, [V.UInt64]: 8, [V.Real32]: 4, [V.Real64]: 8, [V.Bool]: 4, [V.Guid]: 16,
  [V.FileTime]: 8, [V.SysTime]: 16, [V.HexInt32]: 4, [V.HexInt64]: 8,
};

/** Text rendering style: evtx_dump's JSON (`json`) or Event Viewer / evtxexport XML (`xml`). */
export type ValueStyle = 'json' | 'xml';

function scalar(buf: Buffer, type: number, off: number, size: number, style: ValueStyle): EventValue {
  const min = FIXED_SIZE[type];
  if (min !== undefined) need(size, min, type);
  const xml = style === 'xml';
  switch (type) {
    case V.Null: return null;
    case V.String: return utf16(buf, off, size);
    case V.AnsiString: return ansi(buf, off, size);
    case V.Int8: return buf.readInt8(off);
    case V.UInt8: return buf[off]!;
    case V.Int16: return buf.readInt16LE(off);
    case V.UInt16: return buf.readUInt16LE(off);
    case V.Int32: return buf.readInt32LE(off);
    case V.UInt32: return buf.readUInt32LE(off);
    case V.Int64: return readI64(buf, off);
    case V.UInt64: return readU64(buf, off);
    case V.Real32: return real32(buf, off);
    case V.Real64: return buf.readDoubleLE(off);
    case V.Bool: return buf.readUInt32LE(off) !== 0;
    case V.Binary: return hexBytes(buf, off, size);
    case V.Guid: return xml ? '{' + guid(buf, off) + '}' : guid(buf, off);
    case V.SizeT:
      if (size >= 8) return readU64(buf, off);
      need(size, 4, type);
      return buf.readUInt32LE(off);
    case V.FileTime: return filetime(buf, off, xml ? 9 : 6);
    case V.SysTime: return systemtime(buf, off, xml ? 3 : 6);
    case V.Sid: return sid(buf, off, size);
    case V.HexInt32: return hex32(buf, off, xml);
    case V.HexInt64: return hex64(buf, off, xml);
    case V.EvtHandle:
    case V.EvtXml:
      return null;
    default:
      throw new EvtxFormatError(`unknown value type 0x${type.toString(16)}`);
  }
}

function array(buf: Buffer, itemType: number, off: number, size: number, style: ValueStyle): EventValue[] {
  const out: EventValue[] = [];
  const end = off + size;
  if (itemType === V.String) {
    const text = buf.toString('utf16le', off, off + (size & ~1));
    const parts = text.split('\0');
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    return parts;
  }
  if (itemType === V.AnsiString) {
    const parts = buf.toString('latin1', off, end).split('\0');
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    return parts;
  }
  if (itemType === V.Sid) {
    for (let p = off; p < end; ) {
      const len = sidLength(buf, p, end - p);
      if (len < 0) throw new EvtxFormatError('SID array is truncated');
      out.push(sid(buf, p, len));
      p += len;
    }
    return out;
  }
  let width = FIXED_SIZE[itemType];
  if (itemType === V.SizeT) width = size % 8 === 0 ? 8 : 4;
  if (width === undefined) throw new EvtxFormatError(`arrays of value type 0x${itemType.toString(16)} are not defined`);
  for (let p = off; p + width <= end; p += width) out.push(scalar(buf, itemType, p, width, style));
  return out;
}

/** Decodes one substitution value. BinXml values are not decoded here: the walker parses them as XML. */
export function decodeValue(buf: Buffer, type: number, off: number, size: number, style: ValueStyle): EventValue {
  if (off + size > buf.length) throw new EvtxFormatError('value runs past the end of the chunk');
  if (type & ARRAY_FLAG) return array(buf, type & ~ARRAY_FLAG, off, size, style);
  return scalar(buf, type, off, size, style);
}

/** Whether a value reads as empty text: a string of no characters (end-of-string characters aside), no bytes of binary. */
export function isEmptyValue(buf: Buffer, type: number, off: number, size: number): boolean {
  switch (type) {
    case V.String: {
      let end = off + (size & ~1);
      while (end > off && buf[end - 1] === 0 && buf[end - 2] === 0) end -= 2;
      return end === off;
    }
    case V.AnsiString: {
      let end = off + size;
      while (end > off && buf[end - 1] === 0) end--;
      return end === off;
    }
    case V.Binary: return size === 0;
    default: return false;
  }
}

/** Types whose value can be empty text (so that a plain element holding it may be null). */
export function mayBeEmpty(type: number): boolean {
  return type === V.String || type === V.AnsiString || type === V.Binary;
}

/** A value as it reads inside text, for concatenation (attributes with several parts). */
export function valueToText(v: EventValue): string {
  if (v === null) return '';
  if (Array.isArray(v)) return v.map(valueToText).join(',');
  return String(v);
}
