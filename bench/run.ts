import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleSecurityEvents, sampleSysmonEvents } from '../src/evidence/evtx/sample-events.js';
import { type SampleEvent, writeEvtx } from '../src/evidence/evtx/writer.js';
import { exchangeBench } from './exchange.js';
import { clickhouseBench } from './clickhouse.js';
import { PEER_HUNTS } from './peers.js';
import { scaleBench } from './scale.js';
import { serveBench } from './serve.js';

/**
 * `npm run bench [-- evtx|hunt|exchange|scale|clickhouse]`: EVTX parsing speed of `spoor dump --format jsonl`
 * against libevtx's evtxexport on the same files in the same run (bench/results/evtx.json), hunting
 * speed with all SigmaHQ rules (bench/results/hunt.json), `exchange scan` over a generated 2 GB
 * server folder against ripgrep (bench/results/exchange.json), with peak memory; `scale` (not in `all`:
 * it makes and reads gigabytes) hunts at least 1 GiB of each input format on one and two threads
 * (bench/results/scale.json). Absolute times on shared machines are noise; the ratios are the result.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DATA = resolve(ROOT, '../shared/data');
const SPOOR = join(ROOT, 'bin/spoor.js');
const MEASURE = join(ROOT, 'bench/measure.py');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface Run { code: number; wall: number; maxRssKiB: number }

function measure(cmd: string[], stderr?: string): Run {
  const out = execFileSync('python3', [MEASURE, ...(stderr ? [`--stderr=${stderr}`] : []), ...cmd], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as Run;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Figure { tool: string; wallSeconds: number; runs: number[]; mbPerSecond: number; recordsPerSecond: number; peakRssMiB: number; ratioToEvtxexport?: number }

function bench(name: string, cmd: string[], bytes: number, records: number): Figure {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = measure(cmd);
    if (r.code !== 0) throw new Error(`${name} exited ${r.code}`);
    runs.push(r);
  }
  const wall = median(runs.map((r) => r.wall));
  return {
    tool: name,
    wallSeconds: round(wall),
    runs: runs.map((r) => round(r.wall)),
    mbPerSecond: round(bytes / 1e6 / wall),
    recordsPerSecond: Math.round(records / wall),
    peakRssMiB: round(Math.max(...runs.map((r) => r.maxRssKiB)) / 1024),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function listEvtx(dir: string): string[] {
  const out = execFileSync('find', [dir, '-type', 'f', '-name', '*.evtx'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).sort();
}

function countRecords(paths: string[]): number {
  const r = spawnSync(process.execPath, [SPOOR, 'dump', '--threads', '1', ...paths], { maxBuffer: 1 << 30 });
  return r.stdout.toString('utf8').split('\n').filter(Boolean).length;
}

function corpus(label: string, paths: string[], tmp: string) {
  const bytes = paths.reduce((n, p) => n + statSync(p).size, 0);
  const records = countRecords(paths);
  const list = join(tmp, `${label}.list`);
  writeFileSync(list, paths.join('\0'));
  console.log(`\n${label}: ${paths.length} files, ${(bytes / 1e6).toFixed(1)} MB, ${records} records (median of ${RUNS} runs)`);
  const peer = bench('evtxexport -f xml (one process per file)', ['sh', '-c', 'xargs -0 -n 1 evtxexport -f xml < "$0"', list], bytes, records);
  const figures = [peer];
  for (const [tool, threads] of [['spoor dump --format jsonl, both cores', '2'], ['spoor dump --format jsonl, one core', '1'], ['spoor dump --format jsonl, --threads auto', '0']] as const) {
    const f = bench(tool, [process.execPath, SPOOR, 'dump', '--format', 'jsonl', '--threads', threads, ...(paths.length > 50 ? [dirname(paths[0]!) === dirname(paths[paths.length - 1]!) ? dirname(paths[0]!) : commonDir(paths)] : paths)], bytes, records);
    f.ratioToEvtxexport = round(peer.wallSeconds / f.wallSeconds);
    figures.push(f);
  }
  for (const f of figures) {
    console.log(`  ${f.tool.padEnd(46)} ${f.wallSeconds.toFixed(3).padStart(7)} s  ${f.mbPerSecond.toFixed(1).padStart(7)} MB/s  ${String(f.recordsPerSecond).padStart(8)} rec/s  ${f.peakRssMiB.toFixed(0).padStart(4)} MiB` +
      (f.ratioToEvtxexport ? `  ${f.ratioToEvtxexport.toFixed(1)}x evtxexport` : ''));
  }
  return { label, files: paths.length, bytes, records, figures };
}

function commonDir(paths: string[]): string {
  let dir = dirname(paths[0]!);
  while (!paths.every((p) => p.startsWith(dir + '/'))) dir = dirname(dir);
  return dir;
}

/** A large log made by our writer: the same sample events repeated, about 87 MB. */
function* largeLog(records: number): Generator<SampleEvent> {
  const base = [...sampleSysmonEvents(), ...sampleSecurityEvents()];
  for (let i = 0; i < records; i++) {
    const e = base[i % base.length]!;
    yield { ...e, time: e.time + i };
  }
}

/** `npm run bench -- hunt`: all loaded SigmaHQ rules over the attack samples. */
function huntBench(tmp: string) {
  const corpus = `${DATA}/evtx/attack-samples`;
  const paths = listEvtx(corpus);
  const bytes = paths.reduce((n, p) => n + statSync(p).size, 0);
  const ruleDirs = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-compliance', 'rules-dfir'].map((d) => `${DATA}/sigma/${d}`);
  // A fresh data directory: the first run parses the rules' YAML and caches it; the others reuse it.
  process.env.SPOOR_HOME = join(tmp, 'home');
  const first = measure([process.execPath, SPOOR, 'hunt', corpus, '--format', 'jsonl', '--rules', ...ruleDirs]);
  const run = spawnSync(process.execPath, [SPOOR, 'hunt', corpus, '--format', 'jsonl', '--rules', ...ruleDirs], { maxBuffer: 1 << 30 });
  const detections = run.stdout.toString('utf8').split('\n').filter(Boolean).length;
  const loaded = /(\d+) rules and \d+ correlations loaded/.exec(run.stderr.toString())?.[1];
  const events = Number(/(\d+) events/.exec(run.stderr.toString())?.[1] ?? 0);
  const hunt = (threads: number) => [process.execPath, SPOOR, 'hunt', corpus, '--format', 'jsonl', '--threads', String(threads), '--rules', ...ruleDirs];
  const f = bench('spoor hunt, all loaded SigmaHQ rules, 1 thread', hunt(1), bytes, events);
  const f2 = bench('spoor hunt, all loaded SigmaHQ rules, 2 threads', hunt(2), bytes, events);
  // Peers that cannot be installed here: their figures on this machine kind, from ../shared/peers/README.md.
  const peers = PEER_HUNTS.filter((p) => p.corpus.startsWith('attack samples')).map((p) => [p.tool, p.wallSeconds, p.peakRssMiB] as const);
  const best = Math.min(f.wallSeconds, f2.wallSeconds);
  console.log(`\nhunt: ${paths.length} files, ${events} events, ${loaded} rules loaded, ${detections} detections (median of ${RUNS} runs)`);
  console.log(`  ${'spoor hunt, first run (parses the rules)'.padEnd(52)} ${first.wall.toFixed(3).padStart(7)} s  ${String(Math.round(events / first.wall)).padStart(8)} events/s  ${(first.maxRssKiB / 1024).toFixed(0).padStart(4)} MiB`);
  for (const x of [f, f2]) console.log(`  ${(x.tool + ', rules cached').padEnd(52)} ${x.wallSeconds.toFixed(3).padStart(7)} s  ${String(x.recordsPerSecond).padStart(8)} events/s  ${x.peakRssMiB.toFixed(0).padStart(4)} MiB`);
  for (const [name, wall, rss] of peers) console.log(`  ${(name + ' (published)').padEnd(52)} ${wall.toFixed(3).padStart(7)} s  ${String(Math.round(events / wall)).padStart(8)} events/s  ${String(rss).padStart(4)} MiB  spoor is ${(wall / best).toFixed(1)}x`);
  return { corpus: 'attack-samples', files: paths.length, events, rulesLoaded: Number(loaded), detections, firstRunSeconds: round(first.wall), spoor: f, spoorTwoThreads: f2, publishedPeers: peers.map(([tool, wallSeconds, peakRssMiB]) => ({ tool, wallSeconds, peakRssMiB })) };
}

const which = process.argv[2] ?? 'all';
const tmp = mkdtempSync(join(tmpdir(), 'spoor-bench-'));
try {
  console.log(`benchmark: node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'})`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const meta = { date: new Date().toISOString(), node: process.version, cores: availableParallelism(), runs: RUNS };
  if (which === 'all' || which === 'evtx') {
    const results = [corpus('attack-samples', listEvtx(`${DATA}/evtx/attack-samples`), tmp)];
    const big = join(tmp, 'large.evtx');
    writeEvtx(big, largeLog(100_000));
    results.push(corpus('large-generated', [big], tmp));
    const out = join(ROOT, 'bench/results/evtx.json');
    writeFileSync(out, JSON.stringify({ ...meta, results }, null, 2) + '\n');
    console.log(`written: ${out}`);
  }
  if (which === 'clickhouse') {
    const out = join(ROOT, 'bench/results/clickhouse.json');
    writeFileSync(out, JSON.stringify({ ...meta, ...(await clickhouseBench(tmp, SPOOR, DATA, measure)) }, null, 2) + '\n');
    console.log(`written: ${out}`);
  }
  if (which === 'serve') {
    const out = join(ROOT, 'bench/results/serve.json');
    writeFileSync(out, JSON.stringify({ ...meta, ...(await serveBench(tmp, SPOOR)) }, null, 2) + '\n');
    console.log(`written: ${out}`);
  }
  if (which === 'scale' || which === 'memory') {
    const out = join(ROOT, 'bench/results/scale.json');
    writeFileSync(out, JSON.stringify({ ...meta, ...scaleBench(tmp, ROOT, DATA, listEvtx(`${DATA}/evtx/attack-samples`), measure) }, null, 2) + '\n');
    console.log(`written: ${out}`);
  }
  if (which === 'all' || which === 'exchange') {
    const out = join(ROOT, 'bench/results/exchange.json');
    writeFileSync(out, JSON.stringify({ ...meta, ...exchangeBench(tmp, ROOT, measure, RUNS) }, null, 2) + '\n');
    console.log(`written: ${out}`);
  }
  if (which === 'all' || which === 'hunt') {
    const out = join(ROOT, 'bench/results/hunt.json');
    writeFileSync(out, JSON.stringify({ ...meta, ...huntBench(tmp) }, null, 2) + '\n');
    console.log(`written: ${out}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
