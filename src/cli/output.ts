import type { Writable } from 'node:stream';

/**
 * Buffers text for a stream and writes it in large pieces, waiting when the stream is full so that
 * a slow reader of our output cannot make us hold everything in memory.
 */
export class BufferedOutput {
  private parts: (string | Uint8Array)[] = [];
  private size = 0;
  private closed = false;

  constructor(private readonly stream: Writable, private readonly limit = 1 << 20) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      // The reader went away (`spoor dump … | head`): stop writing, quietly.
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async write(data: string | Uint8Array): Promise<void> {
    if (this.closed) return;
    this.parts.push(data);
    this.size += data.length;
    if (this.size >= this.limit) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0 || this.closed) return;
    const chunk = this.parts.length === 1 ? this.parts[0]! : this.parts.every((p) => typeof p === 'string') ? this.parts.join('') : Buffer.concat(this.parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('close', done);
      });
    }
  }
}
