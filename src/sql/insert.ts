import { PassThrough } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';

/**
 * One INSERT whose rows (RowBinary bytes) are sent while they are made: the server parses and writes
 * them while the next are read, and memory holds a few chunks, not a batch. The insert is one
 * request, so the server makes parts of its own block size rather than one per small batch.
 */
export class RowBinaryInsert {
  private readonly body = new PassThrough({ highWaterMark: 4 << 20 });
  private readonly done: Promise<void>;
  private failure: Error | undefined;
  /** Wakes a writer waiting for the body to drain (the insert failed: it never will). */
  private wake: (() => void) | undefined;

  constructor(client: ClickHouseClient, table: string, settings: Record<string, number> = {}) {
    this.done = (async () => {
      const r = await client.exec({ query: `INSERT INTO ${table} FORMAT RowBinary`, values: this.body, clickhouse_settings: settings });
      // The response holds nothing; reading it to its end frees the connection.
      for await (const _ of r.stream);
    })().catch((e: unknown) => {
      this.failure = e as Error;
      this.body.destroy();
      this.wake?.();
    });
  }

  /** Sends bytes; waits while the server is behind (or has refused the insert: then throws). */
  async write(chunks: readonly Buffer[]): Promise<void> {
    for (const c of chunks) {
      if (this.failure) throw this.failure;
      if (!this.body.write(c)) await this.drained();
    }
    if (this.failure) throw this.failure;
  }

  /** Resolves when the body takes bytes again, or the insert has failed: no listener is left behind either way. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      if (this.failure) return resolve();
      const go = () => {
        this.body.off('drain', go);
        this.wake = undefined;
        resolve();
      };
      this.body.once('drain', go);
      this.wake = go;
    });
  }

  /** Ends the insert: resolves once the server holds every row. */
  async end(): Promise<void> {
    this.body.end();
    await this.done;
    if (this.failure) throw this.failure;
  }

  /** Gives the insert up (the rows sent may or may not be kept; ingest's markers say which files are whole). */
  abort(): void {
    this.body.destroy();
  }
}
