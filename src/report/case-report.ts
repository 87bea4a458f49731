import { mergeHostCounts } from './hosts.js';
import type { Attribution } from '../attribution/attribute.js';
import { attackVersion, type KnowledgeBase } from '../attribution/knowledge.js';
import { LEVELS } from '../hunt/rule-selection.js';
import type { HuntRecord } from './hunt-output.js';
import type { MailAccessReport } from './mail-access.js';

/**
 * Everything a report shows of one case, gathered as a hunt's detections stream past: what the HTML
 * report, the STIX bundle and the ATT&CK Navigator layer are each drawn from. It holds tallies of
 * every detection but only the first `maxRows` detections themselves, so that a hunt of millions of
 * detections makes a report of bounded size.
 */
export interface CaseReport {
  title: string;
  generated: string;
  tool: string;
  summary: {
    detections: number;
    first?: string;
    last?: string;
    byLevel: Record<string, number>;
    hosts: { name: string; count: number }[];
    rules: { title: string; id: string | null; level: string; count: number }[];
  };
  timeline: { unit: 'minute' | 'hour' | 'day'; labels: string[]; series: { level: string; counts: number[] }[] };
  techniques: ObservedTechnique[];
  /** Tactic columns of the ATT&CK matrix (all techniques with ATT&CK, only those seen without it). */
  matrix: { tactic: string; name: string; techniques: MatrixTechnique[] }[];
  detections: ReportRow[];
  /** Detections counted but not listed (past `maxRows`). */
  notListed: number;
  exposure: Exposure[];
  indicators: SeenIndicator[];
  cves: string[];
  attribution?: Attribution;
  attributionNote?: string;
  attack?: string;
  /** The mailboxes the intruder reached, when the hunt looked (exchange scan, mail-access, hunt --mail-json). */
  mailAccess?: MailAccessReport;
}

/** A technique in the matrix: its detections (its sub-techniques' included), and the sub-techniques seen. */
export interface MatrixTechnique {
  id: string;
  name: string;
  count: number;
  subs?: { id: string; name: string; count: number }[];
}

export interface ObservedTechnique {
  id: string;
  name: string;
  tactics: string[];
  count: number;
  rules: string[];
  first?: string;
  last?: string;
}

export interface ReportRow {
  time: string;
  level: string;
  rule: string;
  ruleId: string | null;
  host: string;
  channel: string;
  eventId: string;
  recordId: string;
  file: string;
  techniques: string[];
  matched: Record<string, unknown>;
  event?: unknown;
}

export interface Exposure {
  build: string;
  product: string;
  cu: string;
  cves: { cve: string; name: string; fixedBy: string }[];
}

export interface SeenIndicator {
  type: string;
  value: string;
  feed: string;
  name?: string;
  count: number;
  first?: string;
  last?: string;
  hosts: string[];
}

/** The tactics of ATT&CK Enterprise, in the matrix's order. */
export const TACTICS: [string, string][] = [
  ['reconnaissance', 'Reconnaissance'], ['resource-development', 'Resource Development'], ['initial-access', 'Initial Access'], ['execution', 'Execution'],
  ['persistence', 'Persistence'], ['privilege-escalation', 'Privilege Escalation'], ['defense-evasion', 'Defense Evasion'], ['credential-access', 'Credential Access'],
  ['discovery', 'Discovery'], ['lateral-movement', 'Lateral Movement'], ['collection', 'Collection'], ['command-and-control', 'Command and Control'],
  ['exfiltration', 'Exfiltration'], ['impact', 'Impact'],
];
const TACTIC_IDS = new Set(TACTICS.map(([id]) => id));

const validTime = (t: string) => !Number.isNaN(Date.parse(t));
const earlier = (a: string | undefined, b: string) => (a === undefined || Date.parse(b) < Date.parse(a) ? b : a);
const later = (a: string | undefined, b: string) => (a === undefined || Date.parse(b) > Date.parse(a) ? b : a);

export class CaseReportBuilder {
  private readonly times: number[] = [];
  private readonly levelOf: string[] = [];
  private readonly byLevel = new Map<string, number>();
  private readonly hosts = new Map<string, number>();
  private readonly rules = new Map<string, { title: string; id: string | null; level: string; count: number }>();
  private readonly techniques = new Map<string, { tactics: Set<string>; count: number; rules: Set<string>; first?: string; last?: string }>();
  private readonly exposure = new Map<string, Exposure>();
  private readonly indicators = new Map<string, SeenIndicator>();
  private readonly cves = new Set<string>();
  private readonly rows: ReportRow[] = [];
  private count = 0;
  private first: string | undefined;
  private last: string | undefined;

  constructor(private readonly maxRows = 20000, private readonly maxTimes = 1_000_000) {}

  add(d: HuntRecord): void {
    this.count++;
    const level = d.rule.level ?? 'unknown';
    const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
    bump(this.byLevel, level);
    bump(this.hosts, d.computer || 'unknown host');
    const ruleKey = `${d.rule.id ?? ''}\0${d.rule.title}`;
    const rule = this.rules.get(ruleKey) ?? { title: d.rule.title, id: d.rule.id, level, count: 0 };
    rule.count++;
    this.rules.set(ruleKey, rule);
    const timed = validTime(d.timestamp);
    if (timed) {
      this.first = earlier(this.first, d.timestamp);
      this.last = later(this.last, d.timestamp);
      // The timeline needs each time once; past maxTimes it is drawn from the first ones only.
      if (this.times.length < this.maxTimes) {
        this.times.push(Date.parse(d.timestamp));
        this.levelOf.push(level);
      }
    }
    const tactics = d.rule.tags.map((t) => t.toLowerCase().replace(/^attack\./, '').replace(/_/g, '-')).filter((t) => TACTIC_IDS.has(t));
    if (d.rule.tags.includes('detection.exposure')) this.addExposure(d);
    else {
      for (const id of d.rule.techniques) {
        const t = this.techniques.get(id) ?? { tactics: new Set<string>(), count: 0, rules: new Set<string>() };
        t.count++;
        for (const x of tactics) t.tactics.add(x);
        if (t.rules.size < 20) t.rules.add(d.rule.title);
        if (timed) {
          t.first = earlier(t.first, d.timestamp);
          t.last = later(t.last, d.timestamp);
        }
        this.techniques.set(id, t);
      }
      for (const tag of d.rule.tags) if (/^cve\.\d{4}-\d+$/i.test(tag)) this.cves.add(`CVE-${tag.slice(4)}`.toUpperCase());
    }
    if (d.rule.tags.includes('detection.ioc')) this.addIndicator(d);
    if (this.rows.length < this.maxRows) {
      this.rows.push({ time: d.timestamp, level, rule: d.rule.title, ruleId: d.rule.id, host: d.computer, channel: d.channel, eventId: String(d.event_id), recordId: String(d.record_id), file: d.file, techniques: d.rule.techniques, matched: d.matched, event: d.event });
    }
  }

  private addExposure(d: HuntRecord): void {
    const m = d.matched;
    const build = typeof m.build === 'string' ? m.build : '';
    if (!build || this.exposure.has(build)) return;
    const event = (d.event ?? {}) as { cves?: { cve?: unknown; name?: unknown; fixedBy?: unknown }[] };
    const details = Array.isArray(event.cves) ? event.cves : [];
    const listed = Array.isArray(m.cves) ? m.cves.filter((c): c is string => typeof c === 'string') : [];
    const cves = listed.map((cve) => {
      const x = details.find((c) => c.cve === cve);
      return { cve, name: typeof x?.name === 'string' ? x.name : '', fixedBy: typeof x?.fixedBy === 'string' ? x.fixedBy : '' };
    });
    this.exposure.set(build, { build, product: String(m.product ?? ''), cu: String(m.cu ?? ''), cves });
  }

  private addIndicator(d: HuntRecord): void {
    const m = d.matched;
    if (typeof m.indicator !== 'string' || typeof m.type !== 'string') return;
    const key = `${m.type}\0${m.indicator}`;
    const seen = this.indicators.get(key) ?? { type: m.type, value: m.indicator, feed: String(m.feed ?? ''), ...(typeof m.indicator_name === 'string' ? { name: m.indicator_name } : {}), count: 0, hosts: [] };
    seen.count++;
    if (validTime(d.timestamp)) {
      seen.first = earlier(seen.first, d.timestamp);
      seen.last = later(seen.last, d.timestamp);
    }
    if (d.computer && !seen.hosts.includes(d.computer) && seen.hosts.length < 50) seen.hosts.push(d.computer);
    this.indicators.set(key, seen);
  }

  build(options: { title: string; tool: string; kb?: KnowledgeBase; attribution?: Attribution; attributionNote?: string; now?: Date; mailAccess?: MailAccessReport }): CaseReport {
    const names = new Map(options.kb?.techniques.map((t) => [t.id, t]) ?? []);
    const techniques: ObservedTechnique[] = [...this.techniques]
      .map(([id, t]) => {
        const known = names.get(id);
        return { id, name: known?.name ?? id, tactics: known?.tactics.length ? known.tactics : [...t.tactics], count: t.count, rules: [...t.rules], ...(t.first ? { first: t.first, last: t.last } : {}) };
      })
      .sort((a, b) => b.count - a.count || a.id.localeCompare(b.id));
    const order = [...LEVELS].reverse() as string[];
    const rank = (l: string) => (order.includes(l) ? order.indexOf(l) : order.length);
    return {
      title: options.title,
      generated: (options.now ?? new Date()).toISOString(),
      tool: options.tool,
      summary: {
        detections: this.count,
        ...(this.first ? { first: this.first, last: this.last } : {}),
        byLevel: Object.fromEntries([...this.byLevel].sort((a, b) => rank(a[0]) - rank(b[0]))),
        hosts: [...mergeHostCounts(this.hosts)].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count || a.name.localeCompare(b.name)),
        rules: [...this.rules.values()].sort((a, b) => rank(a.level) - rank(b.level) || b.count - a.count),
      },
      timeline: this.timeline(order),
      techniques,
      matrix: matrixOf(techniques, options.kb),
      detections: this.rows,
      notListed: this.count - this.rows.length,
      exposure: [...this.exposure.values()],
      indicators: [...this.indicators.values()].sort((a, b) => b.count - a.count),
      cves: [...this.cves].sort(),
      ...(options.attribution ? { attribution: options.attribution } : {}),
      ...(options.attributionNote ? { attributionNote: options.attributionNote } : {}),
      ...(options.kb ? { attack: attackVersion(options.kb) } : {}),
      ...(options.mailAccess ? { mailAccess: options.mailAccess } : {}),
    };
  }

  /** Detections per level in time buckets: minutes, hours or days, whichever gives at most 240. */
  private timeline(order: string[]): CaseReport['timeline'] {
    if (!this.times.length) return { unit: 'hour', labels: [], series: [] };
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of this.times) {
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    const units = [['minute', 60_000], ['hour', 3_600_000], ['day', 86_400_000]] as const;
    const [unit, size] = units.find(([, ms]) => (hi - lo) / ms < 240) ?? units[2];
    const start = Math.floor(lo / size) * size;
    const n = Math.floor((hi - start) / size) + 1;
    const levels = [...new Set(this.levelOf)].sort((a, b) => order.indexOf(a) - order.indexOf(b));
    const series = levels.map((level) => ({ level, counts: new Array<number>(n).fill(0) }));
    const at = new Map(series.map((s) => [s.level, s.counts]));
    for (let i = 0; i < this.times.length; i++) at.get(this.levelOf[i]!)![Math.floor((this.times[i]! - start) / size)]!++;
    const cut = unit === 'day' ? 10 : 16;
    const labels = Array.from({ length: n }, (_, i) => new Date(start + i * size).toISOString().slice(0, cut).replace('T', ' '));
    return { unit, labels, series };
  }
}

/**
 * The matrix's columns: with ATT&CK, every technique of each tactic; without, those seen. A
 * technique's count folds in its sub-techniques', and the sub-techniques seen are listed under it.
 */
function matrixOf(seen: ObservedTechnique[], kb?: KnowledgeBase): CaseReport['matrix'] {
  const counts = new Map<string, number>();
  const subs = new Map<string, { id: string; name: string; count: number }[]>();
  const names = new Map(kb?.techniques.map((t) => [t.id, t.name]));
  for (const t of seen) {
    const parent = t.id.split('.')[0]!;
    counts.set(parent, (counts.get(parent) ?? 0) + t.count);
    if (parent !== t.id) {
      const list = subs.get(parent) ?? [];
      list.push({ id: t.id, name: names.get(t.id) ?? t.name, count: t.count });
      subs.set(parent, list);
    }
  }
  const cell = (id: string, name: string): MatrixTechnique => {
    const list = subs.get(id)?.sort((a, b) => b.count - a.count || a.id.localeCompare(b.id));
    return { id, name, count: counts.get(id) ?? 0, ...(list ? { subs: list } : {}) };
  };
  const columns = [...TACTICS, ['unknown', 'Tactic not tagged']].map(([tactic, name]) => ({ tactic: tactic!, name: name!, techniques: [] as MatrixTechnique[] }));
  const column = new Map(columns.map((c) => [c.tactic, c]));
  if (kb) {
    for (const t of kb.techniques) {
      if (t.id.includes('.')) continue;
      for (const tactic of t.tactics) column.get(tactic)?.techniques.push(cell(t.id, t.name));
    }
  } else {
    for (const t of seen) {
      const parent = t.id.split('.')[0]!;
      for (const tactic of t.tactics.length ? t.tactics : ['unknown']) {
        const c = column.get(tactic);
        if (c && !c.techniques.some((x) => x.id === parent)) c.techniques.push(cell(parent, t.id === parent ? t.name : parent));
      }
    }
  }
  for (const c of columns) c.techniques.sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
  return columns.filter((c) => (kb ? c.tactic !== 'unknown' : c.techniques.length > 0));
}
