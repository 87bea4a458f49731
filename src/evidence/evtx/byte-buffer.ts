/** A growable output buffer of UTF-8 bytes: records are written into it without building strings. */
export class ByteBuffer {
  buf: Buffer;
  pos = 0;

  constructor(capacity = 1 << 20) {
    this.buf = Buffer.allocUnsafeSlow(capacity);
  }

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    if (b.length < 16) {
      for (let i = 0; i < b.length; i++) this.buf[this.pos + i] = b[i]!;
    } else b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /** Text known to be ASCII (numbers, hex, ISO times, SIDs). */
  ascii(s: string): void {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos + i] = s.charCodeAt(i);
    this.pos += s.length;
  }

  text(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  toString(): string {
    return this.buf.toString('utf8', 0, this.pos);
  }

  /** The bytes written so far (a view; the buffer is not reused after this). */
  result(): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos);
  }
}
