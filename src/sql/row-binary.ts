/**
 * Rows in ClickHouse's RowBinary format, written into chunks of a fixed size that are handed out
 * whole: the server parses this format with no text to scan, and the writer allocates a chunk a
 * megabyte, not a string or an object per value. A row may span chunks (the format is a byte stream).
 */
// Buffer's own UTF-8 writer, without write()'s argument handling (a tenth of ingest's time when called per value).
const utf8Write = (buf: Buffer, s: string, at: number): number => (buf as Buffer & { utf8Write(s: string, at: number): number }).utf8Write(s, at);

export class RowBinaryWriter {
  private buf: Buffer;
  private pos = 0;
  private readonly full: Buffer[] = [];

  constructor(private readonly chunkSize = 1 << 20) {
    this.buf = Buffer.allocUnsafe(chunkSize);
  }

  /** Whether whole chunks wait to be taken. */
  get hasFullChunks(): boolean {
    return this.full.length > 0;
  }

  /** The chunks filled so far; with `all`, the partly filled one too. */
  take(all = false): Buffer[] {
    if (all && this.pos) this.retire(this.chunkSize);
    return this.full.splice(0);
  }

  /** Room for n more bytes in the current chunk (a value larger than a chunk gets a chunk of its own). */
  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.retire(Math.max(n, this.chunkSize));
  }

  private retire(next: number): void {
    if (this.pos) this.full.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(next);
    this.pos = 0;
  }

  uint8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  uint32(v: number): void {
    this.room(4);
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }

  /** An unsigned integer below 2^53. */
  uint64(v: number): void {
    this.room(8);
    this.pos = this.buf.writeUInt32LE(v % 0x1_0000_0000, this.pos);
    this.pos = this.buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000), this.pos);
  }

  /** LEB128, as the format gives lengths and array sizes. */
  varint(v: number): void {
    this.room(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** A String: its UTF-8 length, then its bytes. */
  string(s: string): void {
    const len = s.length;
    // Most values are short and ASCII: copied a byte a unit here, cheaper than a call into the encoder.
    // Up to 42 UTF-16 units are at most 126 bytes, so the length is the one byte before them.
    if (len <= 42) {
      this.room(1 + 3 * len);
      const buf = this.buf;
      const at = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      const n = i === len ? len : utf8Write(buf, s, at);
      buf[this.pos] = n;
      this.pos = at + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.room(n);
    this.pos += utf8Write(this.buf, s, this.pos);
  }

  /**
   * Strings joined by one separator character (below U+0080), as one String, without joining them
   * first; with `lowerAscii`, A-Z written as a-z (bytes of UTF-8's longer sequences are never ASCII).
   */
  joined(parts: readonly string[], separator: string, lowerAscii = false): void {
    let n = Math.max(parts.length - 1, 0);
    for (const p of parts) n += Buffer.byteLength(p, 'utf8');
    this.varint(n);
    this.room(n);
    const start = this.pos;
    const sep = separator.charCodeAt(0);
    for (let i = 0; i < parts.length; i++) {
      if (i) this.buf[this.pos++] = sep;
      this.pos += utf8Write(this.buf, parts[i]!, this.pos);
    }
    if (lowerAscii) {
      const buf = this.buf;
      for (let i = start; i < this.pos; i++) {
        const b = buf[i]!;
        if (b >= 0x41 && b <= 0x5a) buf[i] = b + 0x20;
      }
    }
  }

  stringArray(items: readonly string[]): void {
    this.varint(items.length);
    for (const s of items) this.string(s);
  }

  uint8Array(items: readonly number[]): void {
    this.varint(items.length);
    this.room(items.length);
    for (const v of items) this.buf[this.pos++] = v;
  }
}
