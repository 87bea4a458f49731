import type { Writable } from 'node:stream';

/**
 * Writes results to a stream, waiting when it is full so that a slow reader of our output cannot
 * make us hold everything in memory, and stopping quietly when the reader goes away (`… | head`).
 */
export class StreamOutput {
  private closed = false;

  constructor(private readonly stream: Writable) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async write(data: string | Uint8Array): Promise<void> {
    if (this.closed || data.length === 0) return;
    if (this.stream.write(data)) return;
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

  /** Ends the stream and waits until everything written is flushed. */
  async end(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}
