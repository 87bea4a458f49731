import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/**
 * A text file's content a block at a time, decoded as UTF-8 (a character split between blocks comes
 * whole in the later one), so readers can stream files of any size through bounded memory.
 */
export function* readTextBlocks(file: string, blockSize = 1024 * 1024): Generator<string> {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(blockSize);
    const decoder = new StringDecoder('utf8');
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, blockSize, pos);
      if (n === 0) break;
      pos += n;
      const text = decoder.write(buf.subarray(0, n));
      if (text) yield text;
    }
    const rest = decoder.end();
    if (rest) yield rest;
  } finally {
    closeSync(fd);
  }
}
