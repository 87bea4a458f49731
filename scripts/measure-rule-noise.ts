/**
 * `npm run noise`: how often SigmaHQ's rules (and Spoor's) fire on benign activity, for weighing
 * detections in attribution and for the attribution evaluation's noise. Benign data: the shared
 * EVTX edge-case samples (logs of 22 ordinary machines, from the Rust evtx crate's tests) and the
 * demo's clean Exchange server (its IIS and Exchange logs and event logs, no intrusion). Writes
 * data/attribution/rule-noise.csv: per rule that fired, its hits and the hosts it fired on.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULE_NOISE_FILE } from '../src/attribution/rule-noise.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const spoor = join(root, 'bin', 'spoor.js');
const data = join(root, '..', 'shared', 'data');
const rules = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-dfir', 'rules-compliance'].map((d) => join(data, 'sigma', d)).concat(join(root, 'rules'));
const tmp = mkdtempSync(join(tmpdir(), 'spoor-noise-'));
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [spoor, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`spoor ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

try {
  const clean = join(tmp, 'clean-exchange');
  run('demo', 'generate', clean, '--intrusion', 'none', '--size', '20MB', '--seed', '1');
  const corpora = [
    { name: 'EVTX edge-case samples', path: join(data, 'evtx', 'edge-cases', 'samples') },
    { name: 'demo clean Exchange server', path: clean },
  ];
  const hosts = new Set<string>();
  const byRule = new Map<string, { title: string; level: string; techniques: string[]; hits: number; hosts: Set<string> }>();
  for (const c of corpora) {
    // Every host of the corpus, whether a rule fires on it or not.
    for (const line of run('dump', '--format', 'jsonl', c.path).split('\n')) {
      const computer = /"Computer":"([^"]*)"/.exec(line)?.[1];
      if (computer) hosts.add(`${c.name}\0${computer.toLowerCase()}`);
    }
    for (const line of run('hunt', c.path, '--rules', ...rules, '--format', 'jsonl', '--no-progress').split('\n')) {
      if (!line) continue;
      const d = JSON.parse(line) as { rule: { id: string | null; title: string; level: string | null; techniques: string[] }; computer: string };
      if (!d.rule.id) continue;
      const host = `${c.name}\0${(d.computer || 'server').toLowerCase()}`;
      hosts.add(host);
      const r = byRule.get(d.rule.id) ?? byRule.set(d.rule.id, { title: d.rule.title, level: d.rule.level ?? '', techniques: d.rule.techniques, hits: 0, hosts: new Set() }).get(d.rule.id)!;
      r.hits++;
      r.hosts.add(host);
    }
  }
  const cell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const rows = [...byRule].sort((a, b) => b[1].hosts.size - a[1].hosts.size || b[1].hits - a[1].hits || a[0].localeCompare(b[0]));
  writeFileSync(RULE_NOISE_FILE, [
    `# hosts_measured=${hosts.size}; corpora: ${corpora.map((c) => c.name).join(', ')}; made by npm run noise`,
    'rule_id,title,level,techniques,benign_hits,benign_hosts',
    ...rows.map(([id, r]) => [id, r.title, r.level, r.techniques.join(' '), String(r.hits), String(r.hosts.size)].map(cell).join(',')),
  ].join('\n') + '\n');
  console.log(`${RULE_NOISE_FILE}: ${rows.length} rules fired on benign data of ${hosts.size} hosts`);
  for (const [, r] of rows.slice(0, 15)) console.log(`  ${String(r.hosts.size).padStart(3)} hosts ${String(r.hits).padStart(5)} hits  ${r.level.padEnd(13)} ${r.title}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
