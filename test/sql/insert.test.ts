import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createClient } from '@clickhouse/client';
import { RowBinaryInsert } from '../../src/sql/insert.js';

test('an insert whose connection drops while the writer waits for the server fails, and leaves no listener waiting', async () => {
  // A server that takes the first megabyte of the body, then drops the connection.
  const server = createServer((req) => {
    let received = 0;
    req.on('data', (c: Buffer) => {
      received += c.length;
      if (received > 1 << 20) req.socket.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = createClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  try {
    const insert = new RowBinaryInsert(client, 't');
    // 16 MB: more than the body buffers, so that the writer is waiting when the connection drops.
    await assert.rejects(insert.write(Array.from({ length: 16 }, () => Buffer.alloc(1 << 20))));
    assert.equal((insert as unknown as { body: PassThrough }).body.listenerCount('drain'), 0);
  } finally {
    await client.close();
    server.close();
  }
});
