import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { huntUnit, planHuntUnits } from '../../src/hunt/hunt.js';
import { FeedError, loadFeed } from '../../src/hunt/ioc/feeds.js';
import { IocMatcher } from '../../src/hunt/ioc/matcher.js';
import { RuleIndex } from '../../src/hunt/rule-index.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../../src/sigma/pipeline.js';
import { loadRuleSet } from '../../src/sigma/ruleset.js';
import { DATA, ROOT } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-fuzz-text-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Events of an attack sample as the text formats Spoor reads: JSON lines, one JSON array, Event Viewer XML, CSV. */
function textBases(): Record<string, Buffer> {
  const records = [...readEvtxFile(`${DATA}/evtx/attack-samples/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx`, { render: 'event' })].slice(0, 40);
  const xml = [...readEvtxFile(`${DATA}/evtx/attack-samples/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx`, { render: 'xml' })].slice(0, 40).map((r) => r.text);
  const events = records.map((r) => r.event);
  const csv = ['TimeCreated,EventID,Computer,CommandLine,Image', ...events.map((_, i) => `2021-03-0${1 + (i % 9)}T10:00:${String(i % 60).padStart(2, '0')}Z,4688,EXCH01,"cmd.exe /c ""whoami ${i}""",C:\\Windows\\System32\\cmd.exe`)];
  const logs = `${ROOT}/test/fixtures/logs`;
  return {
    'events.jsonl': Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n'),
    'array.json': Buffer.from(JSON.stringify(events, null, 1)),
    'events.xml': Buffer.from(`<Events>\n${xml.join('\n')}\n</Events>\n`),
    'events.csv': Buffer.from(csv.join('\r\n') + '\r\n'),
    'u_ex210303.log': readFileSync(`${logs}/iis-u_ex210303.log`),
    'HttpProxy_2021030302-1.LOG': readFileSync(`${logs}/httpproxy-HttpProxy_2021030302-1.LOG`),
    'ECPServer20210303-1.LOG': readFileSync(`${logs}/ecp-ECPServer20210303-1.LOG`),
    'feed-chirp.yaml': readFileSync(`${DATA}/ioc/chirp/AA21062A.yaml`).subarray(0, 20_000),
    'feed-mstic.csv': readFileSync(`${DATA}/ioc/mstic/MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv`).subarray(0, 4_000),
    'feed-stix.json': Buffer.from(JSON.stringify({ type: 'bundle', id: 'bundle--1', objects: Array.from({ length: 10 }, (_, i) => ({ type: 'indicator', spec_version: '2.1', id: `indicator--${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`, pattern: `[ipv4-addr:value = '10.${i}.0.1'] OR [domain-name:value = 'x${i}.example.com']`, pattern_type: 'stix', valid_from: '2021-01-01T00:00:00Z' })) })),
    'feed-misp.json': Buffer.from(JSON.stringify({ Event: { info: 'x', Attribute: Array.from({ length: 10 }, (_, i) => ({ type: 'ip-dst', value: `1.2.3.${i}`, uuid: `u${i}` })) } })),
  };
}

/** Texts that readers treat specially: quotes, brackets, separators, header lines, entities, odd Unicode. */
const SPECIAL = ['\0', '"', '{', '}', '[', ']', '<', '>', '&', ',', '\n', '\r\n', '#Fields: ', '\\', 'é', '\ud83d', '\uffff', '<!DOCTYPE x [<!ENTITY a "aaaa">]>', '&a;', '<![CDATA[', ']]>', '9'.repeat(400), 'e999', '#Software: x\n#Fields: date time cs-uri-stem\n', '*a', '&a '];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...SPECIAL), times: fc.integer({ min: 1, max: 3000 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), length: fc.nat(300) }),
  fc.record({ kind: fc.constant('copy' as const), at: fc.nat(), from: fc.nat(), length: fc.nat(3000) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(base: Buffer, ms: readonly Mutation[]): Buffer {
  let b = base;
  for (const m of ms) {
    const at = m.at % (b.length + 1);
    if (m.kind === 'byte' && b.length) (b = Buffer.from(b))[Math.min(at, b.length - 1)] = m.value;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.text.repeat(m.times)), b.subarray(at)]);
    else if (m.kind === 'cut') b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + m.length))]);
    else if (m.kind === 'copy') b = Buffer.concat([b.subarray(0, at), b.subarray(m.from % (b.length + 1), (m.from % (b.length + 1)) + m.length), b.subarray(at)]);
    else if (m.kind === 'truncate') b = b.subarray(0, at);
  }
  return b;
}

test('mutated text evidence and IoC feeds: no exception escapes a reader or a hunt, none hangs', { timeout: 600_000 }, async () => {
  const set = loadRuleSet([`${ROOT}/rules/exchange`, `${DATA}/sigma/rules/web`, `${DATA}/sigma/rules/windows/process_creation`], loadPipeline(DEFAULT_PIPELINE));
  const index = new RuleIndex(set.rules);
  const iocs = new IocMatcher(loadFeed(`${DATA}/ioc/chirp/AA21062A.yaml`).indicators);
  const bases = textBases();
  const names = Object.keys(bases);
  let runs = 0;
  let slowest = 0;
  let events = 0;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...names), fc.array(mutation, { minLength: 1, maxLength: 8 }), async (name, ms) => {
      // The name keeps the base's, so that format sniffing sees what a user's file would show.
      const file = join(tmp, `${runs++ % 4}-${name}`);
      writeFileSync(file, apply(bases[name]!, ms));
      const started = process.hrtime.bigint();
      if (name.startsWith('feed-')) {
        try {
          loadFeed(file);
        } catch (e) {
          assert.ok(e instanceof FeedError, `${name}: ${(e as Error).stack}`);
        }
      } else {
        for (const unit of planHuntUnits([{ path: file, size: statSync(file).size }])) events += (await huntUnit(unit, index, undefined, iocs)).events;
      }
      const took = Number(process.hrtime.bigint() - started) / 1e6;
      // A hang would stop the test at its timeout; the slowest file is printed for review (FUZZ_SEED and FUZZ_RUNS explore further).
      slowest = Math.max(slowest, took);
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 1500), seed: Number(process.env.FUZZ_SEED ?? 20261129) },
  );
  console.log(`fuzz: ${runs} mutated text files and feeds read (${events} events); slowest ${slowest.toFixed(1)} ms`);
  assert.ok(events > 10_000, 'the mutated files still held events: the readers were exercised, not just refused');
});
