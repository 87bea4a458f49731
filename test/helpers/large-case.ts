import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleSecurityEvents, sampleSysmonEvents } from '../../src/evidence/evtx/sample-events.js';
import { type SampleEvent, writeEvtx } from '../../src/evidence/evtx/writer.js';

/** A rule every generated event matches: one detection per event, each carrying its event. */
const EVERY_EVENT = `title: Every generated event
id: 00000000-0000-4000-8000-000000000001
status: test
level: low
logsource:
  product: windows
detection:
  selection:
    EventID|gt: 0
  condition: selection
`;

/**
 * Evidence for a case of `events` detections and more: generated Sysmon and Security events (a
 * server's, ten seconds apart) in `dir/evidence/host/events.evtx`, and in `dir/rules` a rule that
 * every one of them matches.
 */
export function writeLargeCase(dir: string, events: number): { evidence: string; rules: string } {
  const evidence = join(dir, 'evidence', 'host');
  const rules = join(dir, 'rules');
  mkdirSync(evidence, { recursive: true });
  mkdirSync(rules, { recursive: true });
  writeFileSync(join(rules, 'every-event.yml'), EVERY_EVENT);
  const base: SampleEvent[] = [...sampleSysmonEvents(), ...sampleSecurityEvents()];
  writeEvtx(join(evidence, 'events.evtx'), (function* () {
    for (let i = 0; i < events; i++) {
      const e = base[i % base.length]!;
      yield { ...e, time: e.time + i * 10 };
    }
  })());
  return { evidence, rules };
}
