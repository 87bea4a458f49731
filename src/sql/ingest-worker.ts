import { parentPort, workerData } from 'node:worker_threads';
import { type ClickHouseTarget, connect } from './client.js';
import { type UnitToInsert, insertRows } from './insert-rows.js';

/** Worker side of a parallel ingest: its own connection, one insert per task (units read and sent as they are). */
const client = connect(workerData as ClickHouseTarget).then((c) => c.client);
parentPort!.on('message', (msg: { id: number; task: UnitToInsert[] }) => {
  client
    .then((c) => insertRows(c, msg.task))
    .then(
      (result) => parentPort!.postMessage({ id: msg.id, result }),
      (e: Error) => parentPort!.postMessage({ id: msg.id, error: e.message }),
    );
});
