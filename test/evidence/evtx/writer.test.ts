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
  // Unnamed <Data> elements (classic providers) are read in order under the name Data.
  for (const [k, v] of e.data) (data[`EventData/${k || 'Data'}`] ??= []).push(norm(v));
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
  // A classic provider's event: unnamed, positional Data values (MSExchange Management's cmdlet log).
  const cmdlet: SampleEvent = {
    provider: 'MSExchange CmdletLogs', providerGuid: '{00000000-0000-0000-0000-000000000000}', eventId: 1, level: 4, task: 1, keywords: 0x80000000000000n,
    time: Date.UTC(2021, 2, 14, 1, 39, 49), processId: 7312, threadId: 0, channel: 'MSExchange Management', computer: 'MXS01.example',
    data: [['', 'Set-OabVirtualDirectory'], ['', '-ExternalUrl "http://f/<script>…</script>" -Identity "x"'], ['', '7312 w3wp#MSExchangeECPAppPool']],
  };
  const events = [...sampleSysmonEvents(), ...sampleSecurityEvents(), cmdlet];
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
