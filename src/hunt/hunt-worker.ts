import { parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_PIPELINE, loadPipelines } from '../sigma/pipeline.js';
import { loadRuleSet } from '../sigma/ruleset.js';
import { GarbagePacer } from '../common/memory.js';
import { huntUnit, type HuntUnit, unitSize } from './hunt.js';
import { RuleIndex } from './rule-index.js';
import type { AutomatonTables } from '../sigma/aho-corasick.js';
import { loadFeed } from './ioc/feeds.js';
import { IocMatcher } from './ioc/matcher.js';
import { type RuleSelection, selectRules } from './rule-selection.js';

/** What a hunt worker is started with: the rule set to load, which must come out as the main thread's did (each task says how many rules that was). */
export interface HuntWorkerData {
  rules: string[];
  /** The pipeline files, merged in order (the default one when empty). */
  pipeline: string[];
  selection: RuleSelection;
  /** The field or column holding events' times in CSV and flat JSON. */
  timeField?: string;
  /** IoC feeds to match events against. */
  iocs?: string[];
}

/**
 * Worker side of a parallel hunt: loads the same rules as the main thread (from the rule cache, so
 * in a fraction of a second), then hunts the units it is given. Rules are referred to by number, so
 * both threads must have loaded the same list.
 */
const data = workerData as HuntWorkerData;
const set = loadRuleSet(data.rules, loadPipelines(data.pipeline.length ? data.pipeline : [DEFAULT_PIPELINE]));
const rules = selectRules(set.rules, data.selection).rules;
const iocs = data.iocs?.length ? new IocMatcher(data.iocs.flatMap((f) => loadFeed(f).indicators)) : undefined;
let index: RuleIndex | undefined;

const pacer = new GarbagePacer();

// The main thread sends its index's automaton (shared memory) once it has built it: the worker is
// ready with that, one copy of the largest table for every thread.
parentPort!.on('message', async (msg: { automaton: AutomatonTables } | { id: number; task: HuntUnit; expectedRules: number }) => {
  if ('automaton' in msg) {
    index = new RuleIndex(rules, msg.automaton);
    return parentPort!.postMessage({ ready: true });
  }
  if (!index) return parentPort!.postMessage({ id: msg.id, error: 'a task came before the rule index was shared' });
  if (rules.length !== msg.expectedRules) {
    return parentPort!.postMessage({ id: msg.id, error: `a worker thread selected ${rules.length} rules, the main thread ${msg.expectedRules} (did the rule files change during the run?)` });
  }
  try {
    const result = await huntUnit(msg.task, index, data.timeField, iocs);
    pacer.add(unitSize(msg.task));
    parentPort!.postMessage({ id: msg.id, result });
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: `${msg.task.file}: ${(e as Error).stack ?? e}` });
  }
});
