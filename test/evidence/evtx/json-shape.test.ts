import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { ByteBuffer } from '../../../src/evidence/evtx/byte-buffer.js';
import { readEvtxFile } from '../../../src/evidence/evtx/index.js';
import { toJson } from '../../../src/common/json.js';
import { parseConcatenatedJson } from '../../../src/evidence/json.js';
import { DATA, listFiles } from '../../helpers/paths.js';

/**
 * The regression samples' `.json` files were made by evtx_dump from the `.evtx` beside them, except
 * that some string values had trailing spaces trimmed (see ../shared/data/README.md). So: equal as
 * they are, or equal once trailing spaces of strings are trimmed on both sides, and nothing else.
 */
function trimStrings(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/ +$/, '');
  if (Array.isArray(v)) return v.map(trimStrings);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, trimStrings(x)]));
  return v;
}

/**
 * Samples whose `.json` was not made from the `.evtx` beside it by evtx_dump, with the evidence.
 * ad691d92…: the `.json` has SystemTime with 9 fractional digits (evtx_dump prints 6) and
 * ParentCommandLine "Explorer.exe" where the record holds "Explorer.EXE", as evtxexport also shows.
 */
const JSON_NOT_FROM_THIS_EVTX = new Set(['ad691d92-15f2-4181-9aa4-723c74f9ddc3.evtx']);

test('spoor dump --format jsonl equals evtx_dump output for every SigmaHQ regression sample', () => {
  const files = listFiles(`${DATA}/sigma/regression_data`, '.evtx');
  assert.ok(files.length >= 150, `expected the 153 regression samples, found ${files.length}`);
  let exact = 0;
  const differ: string[] = [];
  for (const file of files) {
    const expected = parseConcatenatedJson(readFileSync(file.replace(/\.evtx$/, '.json'), 'utf8'));
    // The JSON text `spoor dump` prints, parsed like the expected file.
    const actual = [...readEvtxFile(file, { render: 'json' })].map((r) => JSON.parse(r.text!));
    if (isDeepStrictEqual(actual, expected)) exact++;
    else if (!isDeepStrictEqual(trimStrings(actual), trimStrings(expected))) differ.push(file);
  }
  console.log(`regression samples: ${files.length}; identical: ${exact}; equal up to trimmed trailing spaces: ${files.length - exact - differ.length}`);
  for (const f of differ) console.log(`differs: ${f}${JSON_NOT_FROM_THIS_EVTX.has(basename(f)) ? ' (known: its .json was edited, see above)' : ''}`);
  assert.deepEqual(differ.map((f) => basename(f)).filter((f) => !JSON_NOT_FROM_THIS_EVTX.has(f)), [], 'samples whose JSON differs from evtx_dump');
});

test('the event objects rules match on print as exactly the JSON text spoor dump writes', () => {
  // Three renderers of ours: JSON as bytes (what spoor dump writes), as text, and the object model
  // behind both. Every record of every corpus must come out the same from all three.
  let records = 0;
  for (const file of [...listFiles(`${DATA}/evtx`, '.evtx'), ...listFiles(`${DATA}/sigma/regression_data`, '.evtx')]) {
    const text = [...readEvtxFile(file, { render: 'json' })].map((r) => r.text);
    const output = new ByteBuffer();
    for (const _ of readEvtxFile(file, { render: 'json', output })) void _;
    const bytes = Buffer.from(output.result()).toString('utf8').split('\n').slice(0, -1);
    const objects = [...readEvtxFile(file, { render: 'event' })].map((r) => toJson(r.event));
    assert.equal(text.length, objects.length, file);
    assert.equal(bytes.length, objects.length, file);
    for (let i = 0; i < text.length; i++) {
      assert.equal(text[i], objects[i], `${file}: record ${i} (text)`);
      assert.equal(bytes[i], objects[i], `${file}: record ${i} (bytes)`);
    }
    records += text.length;
  }
  assert.ok(records > 25000);
});
