import { printable } from './detections.js';
import type { Detection } from '../hunt/hunt.js';
import { LEVELS } from '../hunt/rule-selection.js';
import { mergeHostCounts } from './hosts.js';

/** What a hunt saw, tallied as detections stream past, for the summary at the end. */
export class HuntSummary {
  private readonly byLevel = new Map<string, number>();
  private readonly byRule = new Map<string, number>();
  private readonly byHost = new Map<string, number>();
  private first: string | undefined;
  private last: string | undefined;

  add(d: Detection): void {
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    bump(this.byLevel, d.rule.rule.level ?? 'unknown');
    bump(this.byRule, d.rule.rule.title);
    bump(this.byHost, d.computer || 'unknown host');
    if (!Number.isNaN(Date.parse(d.timestamp))) {
      if (this.first === undefined || d.timestamp < this.first) this.first = d.timestamp;
      if (this.last === undefined || d.timestamp > this.last) this.last = d.timestamp;
    }
  }

  /** The summary as lines of text; `time` formats event times. */
  lines(facts: { files: number; events: number; detections: number; rules: number; setAside: number; leftOut: number }, time: (iso: string) => string, top = 5): string[] {
    const ranked = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top);
    const levels = [...LEVELS].reverse().filter((l) => this.byLevel.has(l)).map((l) => `${l} ${this.byLevel.get(l)}`);
    const other = [...this.byLevel].filter(([l]) => !(LEVELS as readonly string[]).includes(l)).map(([l, n]) => `${l} ${n}`);
    const out = [
      `${facts.files} files, ${facts.events} events, ${facts.detections} detections`,
      `rules: ${facts.rules} run, ${facts.setAside} not loaded${facts.leftOut ? `, ${facts.leftOut} left out by the selection` : ''}`,
    ];
    if (facts.detections) {
      out.push(`by level: ${[...levels, ...other].join(', ')}`);
      if (this.first) out.push(`time range: ${time(this.first)} to ${time(this.last!)}`);
      out.push('top rules:', ...ranked(this.byRule).map(([r, n]) => `  ${String(n).padStart(6)}  ${r}`));
      out.push('hosts:', ...ranked(mergeHostCounts(this.byHost)).map(([h, n]) => `  ${String(n).padStart(6)}  ${h}`));
    }
    // Rule titles and host names come from rule files and evidence: their control characters are shown, not sent.
    return out.map(printable);
  }
}
