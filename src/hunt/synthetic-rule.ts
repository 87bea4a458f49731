import type { SigmaRule } from '../sigma/rule.js';
import { type CompiledRule, cvesOf, techniquesOf } from '../sigma/ruleset.js';

/**
 * A rule for findings that no Sigma rule made (an indicator of compromise, a file on disk, a YARA
 * match, a build's exposure), so that they travel through the same outputs as detections. It matches
 * no event itself.
 */
export function syntheticRule(r: { id: string; title: string; level: string; tags?: string[]; description?: string; file?: string }): CompiledRule {
  const tags = r.tags ?? [];
  const rule: SigmaRule = {
    id: r.id, title: r.title, level: r.level, status: 'stable', description: r.description, author: 'Spoor', tags, references: [], falsepositives: [], fields: [], related: [],
    logsource: {}, detection: {}, kind: 'detection', file: r.file ?? '(spoor)', line: 0, detectionLine: 0, keyLines: new Map(),
  };
  return { rule, techniques: techniquesOf(tags), cves: cvesOf(rule), fields: [], alternatives: [], match: () => false };
}
