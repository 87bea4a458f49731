import { ByteBuffer } from './byte-buffer.js';
import { ValueType as V } from './constants.js';
import { jsonValue } from './json-text-sink.js';
import { decodeValue, filetime, sid } from './values.js';

/**
 * Writes a substitution value as evtx_dump JSON straight from the chunk bytes to UTF-8 output,
 * byte for byte what jsonValue(decodeValue(…)) gives, without making strings for the common types.
 */

const HEX_UPPER = Buffer.from('0123456789ABCDEF');
const HEX_LOWER = Buffer.from('0123456789abcdef');
const ESCAPES: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72, 0x22: 0x22, 0x5c: 0x5c };

function escapeUnit(out: ByteBuffer, c: number): void {
  const b = out.buf;
  const short = ESCAPES[c];
  b[out.pos++] = 0x5c;
  if (short !== undefined) {
    b[out.pos++] = short;
    return;
  }
  b[out.pos++] = 0x75; // \u00XX, lower-case hex as JSON.stringify writes it
  b[out.pos++] = HEX_LOWER[(c >> 12) & 15]!;
  b[out.pos++] = HEX_LOWER[(c >> 8) & 15]!;
  b[out.pos++] = HEX_LOWER[(c >> 4) & 15]!;
  b[out.pos++] = HEX_LOWER[c & 15]!;
}

/** A UTF-16LE string value (trailing NULs dropped) as a JSON string literal. */
function utf16String(out: ByteBuffer, src: Buffer, off: number, size: number): void {
  let end = off + (size & ~1);
  while (end > off && src[end - 1] === 0 && src[end - 2] === 0) end -= 2;
  out.ensure(2 + 3 * (end - off)); // at worst 6 bytes per unit (an escape), 3 per byte of input
  const b = out.buf;
  b[out.pos++] = 0x22;
  for (let p = off; p < end; p += 2) {
    const c = src[p]! | (src[p + 1]! << 8);
    if (c < 0x80) {
      if (c < 0x20 || c === 0x22 || c === 0x5c) escapeUnit(out, c);
      else b[out.pos++] = c;
    } else if (c < 0x800) {
      b[out.pos++] = 0xc0 | (c >> 6);
      b[out.pos++] = 0x80 | (c & 63);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = p + 3 < end ? src[p + 2]! | (src[p + 3]! << 8) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        b[out.pos++] = 0xf0 | (cp >> 18);
        b[out.pos++] = 0x80 | ((cp >> 12) & 63);
        b[out.pos++] = 0x80 | ((cp >> 6) & 63);
        b[out.pos++] = 0x80 | (cp & 63);
        p += 2;
      } else escapeUnit(out, c); // a lone surrogate, escaped as JSON.stringify does
    } else {
      b[out.pos++] = 0xe0 | (c >> 12);
      b[out.pos++] = 0x80 | ((c >> 6) & 63);
      b[out.pos++] = 0x80 | (c & 63);
    }
  }
  b[out.pos++] = 0x22;
}

function unsignedDecimal(out: ByteBuffer, n: number): void {
  if (n < 10) {
    out.ensure(1);
    out.buf[out.pos++] = 0x30 + n;
  } else out.ascii(String(n));
}

function quotedHex(out: ByteBuffer, src: Buffer, off: number, bytes: 4 | 8): void {
  // "0x" + hex without leading zeros ("0x0" for zero), as evtx_dump prints hex integers.
  out.ensure(4 + 2 * bytes);
  const b = out.buf;
  b[out.pos++] = 0x22;
  b[out.pos++] = 0x30;
  b[out.pos++] = 0x78;
  let started = false;
  for (let i = 2 * bytes - 1; i >= 0; i--) {
    const v = src[off + (i >> 1)]!;
    const nibble = i & 1 ? v >> 4 : v & 15;
    if (!started && nibble === 0) continue;
    started = true;
    b[out.pos++] = HEX_LOWER[nibble]!;
  }
  if (!started) b[out.pos++] = 0x30;
  b[out.pos++] = 0x22;
}

function quotedGuid(out: ByteBuffer, src: Buffer, off: number): void {
  out.ensure(38);
  const b = out.buf;
  b[out.pos++] = 0x22;
  const hex = (i: number) => {
    const v = src[off + i]!;
    b[out.pos++] = HEX_UPPER[v >> 4]!;
    b[out.pos++] = HEX_UPPER[v & 15]!;
  };
  hex(3); hex(2); hex(1); hex(0);
  b[out.pos++] = 0x2d;
  hex(5); hex(4);
  b[out.pos++] = 0x2d;
  hex(7); hex(6);
  b[out.pos++] = 0x2d;
  hex(8); hex(9);
  b[out.pos++] = 0x2d;
  for (let i = 10; i < 16; i++) hex(i);
  b[out.pos++] = 0x22;
}

function quotedAscii(out: ByteBuffer, s: string): void {
  out.ensure(s.length + 2);
  out.buf[out.pos++] = 0x22;
  out.ascii(s);
  out.buf[out.pos++] = 0x22;
}

export function writeJsonValue(out: ByteBuffer, src: Buffer, type: number, off: number, size: number): void {
  if (off + size > src.length) {
    decodeValue(src, type, off, size, 'json'); // throws the reader's error for this value
    return;
  }
  switch (type) {
    case V.String: return utf16String(out, src, off, size);
    case V.UInt8: if (size >= 1) return unsignedDecimal(out, src[off]!); break;
    case V.UInt16: if (size >= 2) return unsignedDecimal(out, src.readUInt16LE(off)); break;
    case V.UInt32: if (size >= 4) return unsignedDecimal(out, src.readUInt32LE(off)); break;
    case V.HexInt32: if (size >= 4) return quotedHex(out, src, off, 4); break;
    case V.HexInt64: if (size >= 8) return quotedHex(out, src, off, 8); break;
    case V.Guid: if (size >= 16) return quotedGuid(out, src, off); break;
    case V.FileTime: if (size >= 8) return quotedAscii(out, filetime(src, off, 6)); break;
    case V.Sid: return quotedAscii(out, sid(src, off, size));
    default: break;
  }
  out.text(jsonValue(decodeValue(src, type, off, size, 'json')));
}
