import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { EvtxEvent } from '../../src/evidence/event.js';
import { readEvtxFile } from '../../src/evidence/evtx/index.js';
import { RuleIndex } from '../../src/hunt/rule-index.js';
import type { Detection } from '../../src/hunt/hunt.js';
import { sha256Of } from '../../src/sql/schema.js';
import type { CompiledRule } from '../../src/sigma/ruleset.js';
import { DATA, SPOOR, listFiles } from './paths.js';

/** SigmaHQ's rule folders the SQL parity tests convert. */
export const PARITY_RULE_DIRS = ['rules', 'rules-emerging-threats', 'rules-threat-hunting'].map((d) => `${DATA}/sigma/${d}`);

/** The EVTX files SigmaHQ's regression tests name (with repeats). */
export const regressionSamples = (): string[] => listFiles(`${DATA}/sigma/regression_data`, 'info.yml').flatMap((f) => (parse(readFileSync(f, 'utf8')) as { regression_tests_info: { path: string }[] }).regression_tests_info.map((t) => join(DATA, 'sigma', t.path)));

/** The regression samples once per content (a file is ingested once per content). */
export function distinctRegressionSamples(): string[] {
  const bySha = new Map<string, string>();
  for (const f of new Set(regressionSamples())) if (!bySha.has(sha256Of(readFileSync(f)))) bySha.set(sha256Of(readFileSync(f)), f);
  return [...bySha.values()];
}

/** The in-process engine's detections of some rules over EVTX files, as "rule id, file, record id" keys. */
export function inProcessKeys(files: readonly string[], rules: readonly CompiledRule[]): Set<string> {
  const out = new Set<string>();
  const index = new RuleIndex(rules);
  for (const file of files) {
    for (const r of readEvtxFile(file, { render: 'event' })) {
      const view = new EvtxEvent(r.event);
      for (const n of index.matchNumbers(view)) out.add(`${index.rule(n).rule.id}\t${relative(DATA, file)}\t${view.get('EventRecordID')}`);
    }
  }
  return out;
}

export const detectionKey = (d: Pick<Detection, 'rule' | 'file' | 'recordId'>) => `${d.rule.rule.id}\t${relative(DATA, d.file)}\t${d.recordId}`;

/** What one set has that the other has not (the first ten each), for an assertion that says which. */
export function keyDifferences(local: ReadonlySet<string>, remote: ReadonlySet<string>): { missing: string[]; extra: string[] } {
  return { missing: [...local].filter((k) => !remote.has(k)).slice(0, 10), extra: [...remote].filter((k) => !local.has(k)).slice(0, 10) };
}

/**
 * `spoor hunt --engine URL` and `spoor hunt EVIDENCE` with SigmaHQ's rules, each as sorted "rule id,
 * file (relative to EVIDENCE), record id" keys; the engine's run must succeed.
 */
export function engineAndInProcess(url: string, evidence: string, engineArgs: string[] = []): { remote: string[]; local: string[]; remoteErr: string } {
  const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, ...args, '--rules', ...PARITY_RULE_DIRS, '-f', 'jsonl', '--no-progress'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const keys = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { rule: { id: string }; file: string; record_id: string }).map((d) => `${d.rule.id} ${relative(evidence, d.file)} ${d.record_id}`).sort();
  const remote = run('hunt', '--engine', url, ...engineArgs);
  assert.equal(remote.status, 0, remote.stderr);
  return { remote: keys(remote.stdout), local: keys(run('hunt', evidence).stdout), remoteErr: remote.stderr };
}
