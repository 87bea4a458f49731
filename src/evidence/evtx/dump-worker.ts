import { parentPort } from 'node:worker_threads';
import type { RenderMode } from './chunk.js';
import { runUnit, type WorkUnit } from './work.js';

/** Worker side of the parallel reader: parse the unit it is given, send back its rendered text. */
parentPort!.on('message', (msg: { id: number; unit: WorkUnit; mode: RenderMode }) => {
  parentPort!.postMessage({ id: msg.id, result: runUnit(msg.unit, msg.mode) });
});
