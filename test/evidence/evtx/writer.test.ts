import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readEvtxFile } from '../../../src/evidence/evtx/index.js';
import { sampleSecurityEvents, sampleSysmonEvents } from '../../../src/evidence/evtx/sample-events.js';
import { type SampleEvent, writeEvtx } from '../../../src/evidence/evtx/writer.js';
import { type EventFields, fieldsFromJson, fieldsFromXml, norm } from '../../helpers/event-fields.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-writer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The fields an event was written with, as the oracle comparison normalises them. */
function intended(e: SampleEvent, recordId: number): EventFields {
  const data: Record<string, string[]> = {};
  for (const [k, v] of e.data) data[`EventData/${k}`] = [norm(v)];
  return {
    recordId: String(recordId),
    time: norm(new Date(e.time).toISOString()),
    eventId: String(e.eventId),
    provider: e.provider,
    channel: e.channel,
    computer: e.computer,
    data,
  };
}

test('what the writer writes, evtxexport reads back as the events written; so does our reader', () => {
  const events = [...sampleSysmonEvents(), ...sampleSecurityEvents()];
  // Enough to fill several chunks, so that templates are defined again in each chunk.
  const many = Array.from({ length: 1500 }, (_, i) => ({ ...events[i % events.length]!, time: events[i % events.length]!.time + i }));
  const file = join(tmp, 'written.evtx');
  assert.equal(writeEvtx(file, many), many.length);
  const expected = many.map((e, i) => intended(e, i + 1));

  const oracle = spawnSync('evtxexport', ['-f', 'xml', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(oracle.status, 0, oracle.stderr);
  assert.deepEqual(fieldsFromXml(oracle.stdout), expected);

  const diagnostics: string[] = [];
  const ours = [...readEvtxFile(file, { render: 'event', onDiagnostic: (d) => diagnostics.push(d.message) })].map((r) => fieldsFromJson(r.event));
  assert.deepEqual(diagnostics, [], 'a written file has valid checksums and structure');
  assert.deepEqual(ours, expected);
});
