import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toJson } from '../../../src/common/json.js';
import { EvtxEvent } from '../../../src/evidence/event.js';
import { readEvtxFile } from '../../../src/evidence/evtx/index.js';
import { EvtxRecordView } from '../../../src/evidence/evtx/record-view.js';
import { DATA, listFiles } from '../../helpers/paths.js';

const text = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
const sortedEntries = (m: ReadonlyMap<string, unknown>) => [...m].map(([k, v]) => `${k}=${text(v)}`).sort();

/**
 * The oracle is the object model itself: each record of every shared EVTX file read as a view must
 * give the fields, the values and the object that flattening its evtx_dump-shaped object gives.
 */
test('records read as views have exactly the fields, values, object and JSON text of the evtx_dump model, on every shared EVTX file', { timeout: 300_000 }, () => {
  const files = listFiles(`${DATA}/evtx`, '.evtx');
  assert.ok(files.length >= 300);
  let records = 0;
  let byShape = 0;
  for (const file of files) {
    const trees = [...readEvtxFile(file, { render: 'event' })];
    let i = 0;
    for (const r of readEvtxFile(file, { render: 'view' })) {
      const tree = trees[i++];
      assert.ok(tree && tree.recordId === r.recordId, `${file}: record ${r.recordId} read in both modes`);
      const view = r.view!;
      const model = new EvtxEvent(tree.event);
      const where = `${file}: record ${r.recordId}`;
      assert.deepEqual(sortedEntries(view.fields()), sortedEntries(model.fields()), where);
      for (const k of model.fields().keys()) assert.equal(text(view.get(k)), text(model.get(k)), `${where}: ${k}`);
      assert.deepEqual(view.values().map(text).sort(), model.values().map(text).sort(), where);
      assert.deepEqual(view.toRaw(), tree.event, where);
      // The JSON text a ClickHouse row keeps, written without the object, is the object's JSON.
      if (view.toJsonText) assert.equal(view.toJsonText(), toJson(tree.event), `${where}: JSON text`);
      records++;
      if (view instanceof EvtxRecordView) byShape++;
    }
    assert.equal(i, trees.length, `${file}: as many records`);
  }
  console.log(`${records} records from ${files.length} files, ${byShape} read by field shapes`);
  assert.ok(byShape > records * 0.9);
});
