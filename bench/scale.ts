import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateExchangeServer } from '../src/demo/exchange-server.js';
import { writeLargeCorpus, writeLargeCsv } from './large-corpus.js';
import { PEER_HUNTS } from './peers.js';

interface Run { code: number; wall: number; maxRssKiB: number }
type Measure = (cmd: string[], stderr?: string) => Run;

const round = (x: number) => Math.round(x * 1000) / 1000;
const GiB = 1024 ** 3;

function listFiles(dir: string, ...names: string[]): string[] {
  const args = [dir, '-type', 'f', '('];
  names.forEach((n, i) => args.push(...(i ? ['-o'] : []), '-name', n));
  args.push(')');
  return execFileSync('find', args, { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n').filter(Boolean).sort();
}

const bytesOf = (files: readonly string[]) => files.reduce((n, f) => n + statSync(f).size, 0);

/**
 * The inputs, made once in `dir` (BENCH_SCALE_DIR keeps them between runs): the attack samples
 * repeated into EVTX files, the same as JSON Lines (`spoor dump`) and as CSV, and IIS and Exchange
 * logs of a generated server (W3C).
 */
function corpora(dir: string, samples: readonly string[], spoor: string, gib: number) {
  const evtxDir = join(dir, 'evtx');
  const evtx = existsSync(evtxDir) ? listFiles(evtxDir, '*.evtx') : writeLargeCorpus(samples, evtxDir, gib * GiB * 1.15, 384 * 1024 * 1024);
  const jsonlDir = join(dir, 'jsonl');
  if (!existsSync(jsonlDir)) {
    mkdirSync(jsonlDir);
    for (const f of evtx) {
      const fd = openSync(join(jsonlDir, f.split('/').pop()!.replace(/\.evtx$/, '.jsonl')), 'w');
      execFileSync(process.execPath, [spoor, 'dump', '--threads', '1', f], { stdio: ['ignore', fd, 'inherit'] });
      closeSync(fd);
    }
  }
  const csvDir = join(dir, 'csv');
  const csv = existsSync(csvDir) ? listFiles(csvDir, '*.csv') : writeLargeCsv(samples, csvDir, gib * GiB, 256 * 1024 * 1024);
  const serverDir = join(dir, 'exchange-server');
  if (!existsSync(serverDir)) generateExchangeServer({ dir: serverDir, bytes: gib * GiB * 1.05, seed: 2021, intrusions: ['proxylogon', 'proxyshell'], start: Date.UTC(2021, 2, 1), days: 8 });
  // Only the text logs: IIS's W3C logs and Exchange's own (W3C-style headers, CSV rows).
  const w3c = listFiles(serverDir, '*.log', '*.LOG');
  return [
    { format: 'EVTX', files: evtx },
    { format: 'JSONL (evtx_dump shape)', files: listFiles(jsonlDir, '*.jsonl') },
    { format: 'CSV (one column per field)', files: csv },
    { format: 'W3C (IIS and Exchange logs)', files: w3c },
  ];
}

/**
 * `npm run bench -- scale`: every SigmaHQ rule folder over at least BENCH_SCALE_GB (default 1) GiB
 * of each input format, on one and on two threads: wall time, events/s, events/s per core, MB/s,
 * peak RSS (the limit is 300 MB whatever the input), and `spoor dump` parsing the EVTX files on one
 * and two threads; beside the figures of the peers that cannot be installed here, measured on this
 * machine kind (events/s compared, the corpora being different).
 */
export function scaleBench(tmp: string, root: string, data: string, samples: readonly string[], measure: Measure) {
  const gib = Number(process.env.BENCH_SCALE_GB ?? 1);
  const dir = process.env.BENCH_SCALE_DIR ?? join(tmp, 'scale');
  mkdirSync(dir, { recursive: true });
  const spoor = join(root, 'bin/spoor.js');
  const t0 = Date.now();
  const inputs = corpora(dir, samples, spoor, gib);
  console.log(`\nscale: inputs made or found in ${dir} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const ruleDirs = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-compliance', 'rules-dfir'].map((d) => join(data, 'sigma', d));
  const stderr = join(tmp, 'scale.err');
  // The rules' cache is made once, so that every run below starts the same way.
  execFileSync(process.execPath, [spoor, 'hunt', '--rules', ...ruleDirs, '--format', 'jsonl', '--no-progress', samples[0]!], { stdio: 'ignore' });

  const evtx = inputs[0]!.files;
  const evtxBytes = bytesOf(evtx);
  const parse = [1, 2].map((threads) => {
    const r = measure([process.execPath, spoor, 'dump', '--format', 'jsonl', '--threads', String(threads), ...evtx]);
    if (r.code !== 0) throw new Error(`spoor dump exited ${r.code}`);
    return { threads, wallSeconds: round(r.wall), mbPerSecond: round(evtxBytes / 1e6 / r.wall), peakRssMiB: round(r.maxRssKiB / 1024) };
  });
  console.log(`  parse (spoor dump --format jsonl), ${evtx.length} EVTX files, ${(evtxBytes / 1e9).toFixed(2)} GB:`);
  for (const p of parse) console.log(`    ${p.threads} thread(s): ${p.wallSeconds} s, ${p.mbPerSecond} MB/s, peak RSS ${p.peakRssMiB} MiB`);

  const hunts = inputs.map(({ format, files }) => {
    const bytes = bytesOf(files);
    const runs = [1, 2].map((threads) => {
      const r = measure([process.execPath, spoor, 'hunt', ...files, '--format', 'jsonl', '--no-progress', '--threads', String(threads), '--rules', ...ruleDirs], stderr);
      const said = readFileSync(stderr, 'utf8');
      if (r.code !== 0) throw new Error(`spoor hunt (${format}, ${threads} threads) exited ${r.code}: ${said.slice(-2000)}`);
      const counted = /(\d+) files, (\d+) events, (\d+) detections/.exec(said);
      const events = Number(counted?.[2] ?? 0);
      return {
        threads,
        wallSeconds: round(r.wall),
        events,
        detections: Number(counted?.[3] ?? 0),
        eventsPerSecond: Math.round(events / r.wall),
        eventsPerSecondPerCore: Math.round(events / r.wall / threads),
        mbPerSecond: round(bytes / 1e6 / r.wall),
        peakRssMiB: round(r.maxRssKiB / 1024),
        withinLimit: r.maxRssKiB / 1024 <= 300,
      };
    });
    return { format, files: files.length, bytes, runs };
  });
  console.log(`  hunt, every SigmaHQ rule folder, JSONL out (the limit is 300 MiB):`);
  console.log(`    ${'input'.padEnd(30)} ${'GB'.padStart(5)} thr ${'wall s'.padStart(8)} ${'events'.padStart(9)} ${'ev/s'.padStart(7)} ${'ev/s/core'.padStart(9)} ${'MB/s'.padStart(6)} ${'RSS MiB'.padStart(8)}`);
  for (const h of hunts) for (const r of h.runs) {
    console.log(`    ${h.format.padEnd(30)} ${(h.bytes / 1e9).toFixed(2).padStart(5)} ${String(r.threads).padStart(3)} ${r.wallSeconds.toFixed(1).padStart(8)} ${String(r.events).padStart(9)} ${String(r.eventsPerSecond).padStart(7)} ${String(r.eventsPerSecondPerCore).padStart(9)} ${r.mbPerSecond.toFixed(1).padStart(6)} ${r.peakRssMiB.toFixed(0).padStart(8)}${r.withinLimit ? '' : '  over the limit'}`);
  }
  const evtxBest = Math.max(...hunts[0]!.runs.map((r) => r.eventsPerSecond));
  console.log(`  peers (measured on this machine kind, other corpora; events/s compared with Spoor's best on EVTX here, ${evtxBest}/s):`);
  for (const p of PEER_HUNTS) {
    const rate = p.events / p.wallSeconds;
    console.log(`    ${p.tool.padEnd(44)} ${p.corpus.padEnd(40)} ${p.wallSeconds.toFixed(1).padStart(6)} s ${String(Math.round(rate)).padStart(7)} ev/s ${String(p.peakRssMiB).padStart(5)} MiB  spoor ${(evtxBest / rate).toFixed(1)}×`);
  }
  return { dir, gib, parse, hunts, peers: PEER_HUNTS };
}
