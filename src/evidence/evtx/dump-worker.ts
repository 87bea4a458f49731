import { parentPort } from 'node:worker_threads';
import type { RenderMode } from './chunk.js';
import { runUnit, type WorkUnit } from './work.js';

/** Worker side of the parallel reader: parse the unit it is given, send back its rendered text. */
parentPort!.on('message', (msg: { id: number; task: WorkUnit; mode: RenderMode }) => {
  const result = runUnit(msg.task, msg.mode);
  // Results own their ArrayBuffer (never a pool slice), so it moves to the main thread without a copy.
  const data = result.data.byteOffset === 0 ? result.data : new Uint8Array(result.data);
  parentPort!.postMessage({ id: msg.id, result: { ...result, data } }, [data.buffer as ArrayBuffer]);
});
