import type { CompiledRule } from '../sigma/ruleset.js';

/** Rule levels from least to most severe. */
export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'] as const;

export function levelRank(level: string | undefined): number {
  return LEVELS.indexOf((level ?? '').toLowerCase() as (typeof LEVELS)[number]);
}

/** Which loaded rules a hunt runs (every field optional: no restriction). Plain data, so worker threads get the same. */
export interface RuleSelection {
  /** The least level run. */
  level?: string;
  statuses?: string[];
  /** A rule is run when it has one of these tags (`attack.t1059`, or a technique id such as `T1059`, which takes its sub-techniques too). */
  tags?: string[];
  ruleIds?: string[];
}

/** The rules a selection keeps, in their order, and how many it left out. */
export function selectRules(rules: readonly CompiledRule[], s: RuleSelection): { rules: CompiledRule[]; leftOut: number } {
  const least = s.level === undefined ? -1 : levelRank(s.level);
  const statuses = s.statuses?.map((x) => x.toLowerCase());
  const tags = s.tags?.map((x) => x.toLowerCase());
  const ids = s.ruleIds?.map((x) => x.toLowerCase());
  const kept = rules.filter(({ rule, techniques }) => {
    if (levelRank(rule.level) < least) return false;
    if (statuses && !statuses.includes((rule.status ?? '').toLowerCase())) return false;
    if (ids && !ids.includes((rule.id ?? '').toLowerCase())) return false;
    if (tags) {
      const own = rule.tags.map((t) => t.toLowerCase());
      const techs = techniques.map((t) => t.toLowerCase());
      if (!tags.some((t) => own.includes(t) || techs.some((x) => x === t || x.startsWith(t + '.')))) return false;
    }
    return true;
  });
  return { rules: kept, leftOut: rules.length - kept.length };
}

/** A list option given as repeated flags and/or comma-separated values. */
export function listOption(values: readonly string[] | undefined): string[] | undefined {
  const all = values?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return all?.length ? all : undefined;
}
