import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { CURATED_DATA } from './curated.js';

/**
 * How often rules fire on ordinary activity, as `npm run noise` measured it on benign data
 * (data/attribution/rule-noise.csv): for each rule that fired there, on how many of the hosts
 * measured. A rule that fires on many benign hosts says little about an intrusion.
 */
export interface NoisyRule {
  id: string;
  title: string;
  level: string;
  techniques: string[];
  hits: number;
  hosts: number;
}

export const RULE_NOISE_FILE = `${CURATED_DATA}rule-noise.csv`;

export class RuleNoise {
  private readonly byId: Map<string, NoisyRule>;

  constructor(
    readonly rules: readonly NoisyRule[],
    /** Hosts of benign data the rates were measured on. */
    readonly hostsMeasured: number,
  ) {
    this.byId = new Map(rules.map((r) => [r.id, r]));
  }

  /** The share of benign hosts a rule fired on (0 for a rule never seen firing there). */
  share(id: string | undefined): number {
    const r = id ? this.byId.get(id) : undefined;
    return r && this.hostsMeasured ? r.hosts / this.hostsMeasured : 0;
  }

  /** How much a detection of the rule keeps of its weight: 1/(1 + 10·share); a rule firing on every benign host keeps a tenth. */
  specificity(id: string | undefined): number {
    return 1 / (1 + 10 * this.share(id));
  }
}

let shipped: RuleNoise | undefined;

/** The measured rates Spoor ships; none (every rule fully specific) when the file is missing. */
export function ruleNoise(file = RULE_NOISE_FILE): RuleNoise {
  if (file === RULE_NOISE_FILE && shipped) return shipped;
  const noise = existsSync(file) ? readRuleNoise(file) : new RuleNoise([], 0);
  if (file === RULE_NOISE_FILE) shipped = noise;
  return noise;
}

/** The file's first line says how many hosts were measured: `# hosts_measured=23; corpora: …`. */
export function readRuleNoise(file: string): RuleNoise {
  const text = readFileSync(file, 'utf8');
  const measured = Number(/^# hosts_measured=(\d+)/.exec(text)?.[1] ?? 0);
  const rows = parse(text, { columns: true, skip_empty_lines: true, trim: true, comment: '#' }) as Record<string, string>[];
  return new RuleNoise(
    rows.map((r, i) => {
      const hits = Number(r.benign_hits);
      const hosts = Number(r.benign_hosts);
      if (!r.rule_id || !(hits > 0) || !(hosts > 0)) throw new Error(`${file}: row ${i + 2}: needs rule_id, benign_hits and benign_hosts`);
      return { id: r.rule_id, title: r.title ?? '', level: r.level ?? '', techniques: (r.techniques ?? '').split(/\s+/).filter(Boolean), hits, hosts };
    }),
    measured,
  );
}
