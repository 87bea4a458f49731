import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sampleSecurityEvents, sampleSysmonEvents } from '../src/evidence/evtx/sample-events.js';
import { writeEvtx } from '../src/evidence/evtx/writer.js';

/** Writes the sample evidence the README's first command runs on: `npm run samples [DIR]`. */
const dir = resolve(process.argv[2] ?? 'samples');
mkdirSync(join(dir, 'evtx'), { recursive: true });
const written = [
  ['Microsoft-Windows-Sysmon%4Operational.evtx', writeEvtx(join(dir, 'evtx', 'Microsoft-Windows-Sysmon%4Operational.evtx'), sampleSysmonEvents())],
  ['Security.evtx', writeEvtx(join(dir, 'evtx', 'Security.evtx'), sampleSecurityEvents())],
] as const;
for (const [name, n] of written) console.log(`${join(dir, 'evtx', name)}: ${n} records`);
