import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateExchangeServer } from '../src/demo/exchange-server.js';
import { RuleIndex } from '../src/hunt/rule-index.js';
import { DEFAULT_PIPELINE, loadPipeline } from '../src/sigma/pipeline.js';
import { loadRuleSet } from '../src/sigma/ruleset.js';

interface Run { code: number; wall: number; maxRssKiB: number }

/** The log kinds of an Exchange server's folder, as the readers name them. */
const CHANNELS = ['IIS', 'HttpProxy Logs', 'ECP Server Log', 'OABGenerator Log', 'Message Tracking Log'];

/**
 * `exchange scan` over a generated Exchange server folder (2 GB by default; BENCH_EXCHANGE_GB sets
 * the size, BENCH_EXCHANGE_DIR reuses a folder) next to ripgrep searching the same folder, in the same
 * run, for the same literals: those the scan's line filter looks for (its rules' required literals),
 * case-insensitively as the scan does. rg reads at about the speed of memory: it is the limit. Spoor
 * also splits each line it keeps into fields and runs the rules on it, and counts every line.
 */
export function exchangeBench(tmp: string, root: string, measure: (cmd: string[]) => Run, runs: number) {
  const dir = process.env.BENCH_EXCHANGE_DIR ?? join(tmp, 'exchange-server');
  if (!existsSync(join(dir, 'ground-truth.json'))) {
    const gb = Number(process.env.BENCH_EXCHANGE_GB ?? 2);
    console.log(`\ngenerating a ${gb} GB Exchange server folder in ${dir} …`);
    generateExchangeServer({ dir, bytes: gb * 1024 ** 3, seed: 2021, intrusions: ['proxylogon', 'proxyshell', 'proxynotshell'], start: Date.UTC(2021, 2, 1), days: 3 });
  }
  const files = execFileSync('find', [dir, '-type', 'f'], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n').filter(Boolean);
  const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
  // The literals the scan's line filter uses, from the rules it runs (Spoor's own: no SigmaHQ set is installed here).
  const rules = loadRuleSet([join(root, 'rules')], loadPipeline(DEFAULT_PIPELINE), { eager: true });
  const index = new RuleIndex(rules.rules);
  const literals = [...new Set(CHANNELS.flatMap((c) => index.lineLiterals(c) ?? []))].sort();
  const patterns = join(tmp, 'patterns.txt');
  writeFileSync(patterns, `${literals.join('\n')}\n`);
  console.log(`\nexchange server folder: ${files.length} files, ${(bytes / 1e6).toFixed(0)} MB; literals: ${literals.join(' | ')} (median of ${runs} runs, page cache warm)`);
  execFileSync('sh', ['-c', `find "${dir}" -type f -print0 | xargs -0 cat > /dev/null`]);
  const timed = (name: string, cmd: string[]) => {
    const rs: Run[] = [];
    for (let i = 0; i < runs; i++) {
      const r = measure(cmd);
      // rg exits 1 when nothing matched; the scan exits 1 only when an input was unreadable.
      if (r.code !== 0 && !(name.startsWith('rg') && r.code === 1)) throw new Error(`${name} exited ${r.code}`);
      rs.push(r);
    }
    const wall = [...rs.map((r) => r.wall)].sort((a, b) => a - b)[Math.floor(rs.length / 2)]!;
    return { tool: name, wallSeconds: round(wall), runs: rs.map((r) => round(r.wall)), mbPerSecond: round(bytes / 1e6 / wall), peakRssMiB: round(Math.max(...rs.map((r) => r.maxRssKiB)) / 1024) };
  };
  const hasRg = spawnSync('rg', ['--version']).status === 0;
  const peer = hasRg ? timed('rg -c -F -i -f PATTERNS (both cores)', ['rg', '-c', '-F', '-i', '-f', patterns, dir]) : undefined;
  if (!hasRg) console.log('rg is not installed (apt-get install ripgrep): no peer figure');
  const figures: Record<string, unknown>[] = peer ? [peer] : [];
  for (const [tool, threads] of [['spoor exchange scan, --threads auto', '0'], ['spoor exchange scan, one thread', '1'], ['spoor exchange scan, two threads', '2']] as const) {
    const f = timed(tool, [process.execPath, join(root, 'bin/spoor.js'), 'exchange', 'scan', dir, '--format', 'jsonl', '--output', '/dev/null', '--no-progress', '--threads', threads]);
    figures.push({ ...f, ...(peer ? { timesSlowerThanRg: round(f.wallSeconds / peer.wallSeconds) } : {}) });
  }
  // With SigmaHQ's rules as well (after spoor update): many more literals (some 300 for web logs), so
  // the line filter runs the automaton instead of native searches; rg gets that literal set too.
  const data = join(root, '../shared/data/sigma');
  if (existsSync(data)) {
    const sigmaDirs = [join(data, 'rules'), join(data, 'rules-emerging-threats')];
    const all = new RuleIndex(loadRuleSet([join(root, 'rules'), ...sigmaDirs], loadPipeline(DEFAULT_PIPELINE), { eager: true }).rules);
    const more = [...new Set(CHANNELS.flatMap((c) => all.lineLiterals(c) ?? []))].sort();
    const morePatterns = join(tmp, 'patterns-sigmahq.txt');
    writeFileSync(morePatterns, `${more.join('\n')}\n`);
    console.log(`  with SigmaHQ's rules and emerging threats too: ${more.length} literals`);
    const rg2 = hasRg ? timed('rg, SigmaHQ literals too', ['rg', '-c', '-F', '-i', '-f', morePatterns, dir]) : undefined;
    if (rg2) figures.push(rg2);
    const f = timed('spoor exchange scan, SigmaHQ rules too', [process.execPath, join(root, 'bin/spoor.js'), 'exchange', 'scan', dir, '--format', 'jsonl', '--output', '/dev/null', '--no-progress', '--rules', ...sigmaDirs]);
    figures.push({ ...f, ...(rg2 ? { timesSlowerThanRg: round(f.wallSeconds / rg2.wallSeconds) } : {}) });
  }
  for (const f of figures) console.log(`  ${String(f.tool).padEnd(42)} ${String(f.wallSeconds).padStart(8)} s  ${String(f.mbPerSecond).padStart(8)} MB/s  ${String(f.peakRssMiB).padStart(7)} MiB${f.timesSlowerThanRg ? `  ${f.timesSlowerThanRg}× rg's time` : ''}`);
  return { folder: { files: files.length, bytes, literals }, results: figures };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
