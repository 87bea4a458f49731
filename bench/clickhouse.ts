import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { sampleSecurityEvents, sampleSysmonEvents } from '../src/evidence/evtx/sample-events.js';
import { type SampleEvent, writeEvtx } from '../src/evidence/evtx/writer.js';
import { type TestClickHouse, queryServer, startClickHouse } from '../test/helpers/clickhouse.js';

/**
 * The detections of a JSON Lines file as "rule id, file, record id" keys, read line by line: how
 * many, and the sum of their hashes (64 bits), which two files share only if they hold the same keys.
 */
async function detectionKeys(file: string): Promise<{ count: number; sum: bigint }> {
  let count = 0;
  let sum = 0n;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line) continue;
    const d = JSON.parse(line) as { rule: { id: string }; file: string; record_id: string };
    sum = (sum + createHash('sha256').update(`${d.rule.id} ${d.file} ${d.record_id}`).digest().readBigUInt64BE(0)) & 0xffff_ffff_ffff_ffffn;
    count++;
  }
  return { count, sum };
}

/** Bytes the events of a database take on the server's disk (active parts), per million events. */
async function diskPerMillion(ch: TestClickHouse, database: string): Promise<{ events: number; bytes: number; mbPerMillion: number }> {
  const [bytes, events] = (await queryServer(ch, `SELECT sum(bytes_on_disk), sum(rows) FROM system.parts WHERE database = '${database}' AND table = 'events' AND active`)).split('\t').map(Number) as [number, number];
  return { events, bytes, mbPerMillion: Math.round((bytes / 1e6) * (1e6 / Math.max(1, events))) };
}

/**
 * `npm run bench -- clickhouse`: a generated dataset (BENCH_CH_EVENTS events, 10 million by default;
 * Sysmon and Security events in files of a million) ingested into a private ClickHouse server
 * (Debian's 18.16) and hunted there with SigmaHQ's rules, beside the in-process engine hunting the
 * same files with the same rules: events a second for each, and whether their detections agree.
 */
export async function clickhouseBench(tmp: string, spoor: string, data: string, measure: (cmd: string[]) => { code: number; wall: number; maxRssKiB: number }) {
  const events = Number(process.env.BENCH_CH_EVENTS ?? 10_000_000);
  const dir = join(tmp, 'ch-corpus');
  mkdirSync(dir, { recursive: true });
  const base: SampleEvent[] = [...sampleSysmonEvents(), ...sampleSecurityEvents()];
  const perFile = 1_000_000;
  let t = Date.now();
  for (let start = 0, n = 0; start < events; start += perFile, n++) {
    const count = Math.min(perFile, events - start);
    writeEvtx(join(dir, `part-${String(n).padStart(3, '0')}.evtx`), (function* () {
      for (let i = start; i < start + count; i++) {
        const e = base[i % base.length]!;
        yield { ...e, time: e.time + i * 10 };
      }
    })());
  }
  console.log(`\nclickhouse: ${events} events generated in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  const rules = ['rules', 'rules-emerging-threats', 'rules-threat-hunting'].flatMap((d) => ['--rules', `${data}/sigma/${d}`]);
  const ch = await startClickHouse();
  try {
    const url = `clickhouse://127.0.0.1:${ch.httpPort}/bench`;
    // Detections go to files (10 million events give gigabytes of JSON Lines, more than a string holds).
    const timed = (args: string[], out: string) => {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [spoor, ...args, '-o', out], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28 });
      if (r.status !== 0) throw new Error(`spoor ${args[0]} exited ${r.status}: ${r.stderr.slice(-2000)}`);
      return { seconds: (Date.now() - t0) / 1000, out };
    };
    // Ingest through the measuring wrapper: its peak memory is one of the figures the issue sets.
    const ingestRun = measure([process.execPath, spoor, 'ingest', dir, '--to', url, '--no-progress']);
    if (ingestRun.code !== 0) throw new Error(`spoor ingest exited ${ingestRun.code}`);
    const ingest = { seconds: ingestRun.wall, peakRssMiB: Math.round(ingestRun.maxRssKiB / 1024) };
    // Disk per million events: of the generated events (the same few dozen events again and again,
    // so they compress far better than logs do), and of the attack samples (277 real logs).
    const disk = await diskPerMillion(ch, 'bench');
    const samples = spawnSync(process.execPath, [spoor, 'ingest', `${data}/evtx/attack-samples`, '--to', url.replace(/\/bench$/, '/bench_samples'), '--no-progress'], { encoding: 'utf8' });
    if (samples.status !== 0) throw new Error(`spoor ingest of the attack samples exited ${samples.status}: ${samples.stderr.slice(-2000)}`);
    const diskSamples = await diskPerMillion(ch, 'bench_samples');
    // Two threads, each reading and inserting, into a database of their own (the default is one thread on two cores).
    const twoRun = measure([process.execPath, spoor, 'ingest', dir, '--to', url.replace(/\/bench$/, '/bench_two_threads'), '--threads', '2', '--no-progress']);
    if (twoRun.code !== 0) throw new Error(`spoor ingest --threads 2 exited ${twoRun.code}`);
    const ingestTwo = { seconds: twoRun.wall, peakRssMiB: Math.round(twoRun.maxRssKiB / 1024) };
    const inDb = timed(['hunt', '--engine', url, ...rules, '-f', 'jsonl', '--no-progress'], join(tmp, 'engine.jsonl'));
    const local = timed(['hunt', dir, ...rules, '-f', 'jsonl', '--no-progress'], join(tmp, 'in-process.jsonl'));
    const a = await detectionKeys(inDb.out);
    const b = await detectionKeys(local.out);
    const same = a.count === b.count && a.sum === b.sum;
    const rate = (s: number) => Math.round(events / s);
    console.log(`  ${'spoor ingest into ClickHouse 18.16'.padEnd(46)} ${ingest.seconds.toFixed(1).padStart(8)} s  ${String(rate(ingest.seconds)).padStart(8)} events/s  ${ingest.peakRssMiB} MiB`);
    console.log(`  ${'ClickHouse disk per million events'.padEnd(46)} ${String(disk.mbPerMillion).padStart(8)} MB generated, ${diskSamples.mbPerMillion} MB attack samples (${diskSamples.events} events, ${(diskSamples.bytes / 1e6).toFixed(1)} MB)`);
    console.log(`  ${'spoor ingest --threads 2'.padEnd(46)} ${ingestTwo.seconds.toFixed(1).padStart(8)} s  ${String(rate(ingestTwo.seconds)).padStart(8)} events/s  ${ingestTwo.peakRssMiB} MiB  (${(ingest.seconds / ingestTwo.seconds).toFixed(2)}x one thread)`);
    console.log(`  ${'spoor hunt --engine clickhouse (SigmaHQ rules)'.padEnd(46)} ${inDb.seconds.toFixed(1).padStart(8)} s  ${String(rate(inDb.seconds)).padStart(8)} events/s  ${a.count} detections`);
    console.log(`  ${'spoor hunt in process (same rules, same files)'.padEnd(46)} ${local.seconds.toFixed(1).padStart(8)} s  ${String(rate(local.seconds)).padStart(8)} events/s  ${b.count} detections`);
    console.log(`  in-process / ClickHouse hunt time: ${(local.seconds / inDb.seconds).toFixed(2)}; detections ${same ? 'identical' : 'DIFFER'}`);
    return { events, files: Math.ceil(events / perFile), ingest: { seconds: ingest.seconds, eventsPerSecond: rate(ingest.seconds), peakRssMiB: ingest.peakRssMiB }, diskPerMillionEvents: { generatedMB: disk.mbPerMillion, attackSamplesMB: diskSamples.mbPerMillion, attackSampleEvents: diskSamples.events }, ingestTwoThreads: { seconds: ingestTwo.seconds, eventsPerSecond: rate(ingestTwo.seconds), peakRssMiB: ingestTwo.peakRssMiB }, huntClickHouse: { seconds: inDb.seconds, eventsPerSecond: rate(inDb.seconds), detections: a.count }, huntInProcess: { seconds: local.seconds, eventsPerSecond: rate(local.seconds), detections: b.count }, detectionsIdentical: same };
  } finally {
    await ch.stop();
  }
}
