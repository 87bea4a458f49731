import { readFileSync, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { type Attribution, type Candidate, attribute, displayName } from '../../attribution/attribute.js';
import { type DetectionRecord, Evidence, EvidenceError, NameFinder, evidenceFromCase, evidenceFromDetections } from '../../attribution/evidence.js';
import type { Detection } from '../../hunt/hunt.js';
import { KnowledgeError, KnowledgeIndex, type KnowledgeBase } from '../../attribution/knowledge.js';
import { knowledgeFor } from '../../attribution/installed-knowledge.js';
import { countryName, normaliseCountry, normaliseSector } from '../../attribution/victimology.js';
import { formatTable } from '../../report/detections.js';
import { ExitCode } from '../options.js';
import { type AttributeCliOptions, addAttributionOptions } from './case-options.js';
import { HuntOutputError, huntRecords } from '../../report/hunt-output.js';

export function addAnalystEvidence(e: Evidence, opts: AttributeCliOptions): void {
  for (const s of opts.sector) e.add('sector', normaliseSector(s), 'analyst (--sector)');
  for (const c of opts.country) e.add('country', normaliseCountry(c), 'analyst (--country)');
}

export function attributeCommand(): Command {
  return addAttributionOptions(
    new Command('attribute')
      .description('rank the threat groups that could be behind what a hunt found, with evidence and calibrated likelihoods')
      .requiredOption('-i, --input <file>', "a hunt's JSONL output (spoor hunt -f jsonl) or a JSON case file")
      .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table')),
  )
    .addHelpText('after', `
A case file is {"techniques":[…],"software":[…],"cves":[…],"sectors":[…],"countries":[…],"ips":[…],"actors":[…]};
software and actors may be ATT&CK ids, names or aliases. From a hunt's JSONL, Spoor reads the rules'
ATT&CK and CVE tags, software and groups named by YARA rules and IoC feeds, and the external
addresses of the matched events (enriched offline with their network and country).
Probabilities are calibrated on ATT&CK's held-out reports and stated in ICD 203's terms; "unknown"
is the hypothesis that the actor is a group ATT&CK does not describe. See the README for the method.
Exit status: 0 on success, 1 when the input or ATT&CK cannot be read or a line of the input was skipped
(named on stderr; the rest is attributed), 2 on bad usage.`)
    .action((opts: AttributeCliOptions & { input: string; format: 'table' | 'json' }) => {
      try {
        const kb = knowledgeFor(opts.attack);
        const index = new KnowledgeIndex(kb);
        let bad = 0;
        const evidence = readEvidence(opts.input, index, (m) => {
          bad++;
          process.stderr.write(`spoor attribute: ${m}\n`);
        });
        addAnalystEvidence(evidence, opts);
        const result = attribute(kb, evidence, { top: Number(opts.top) || 5 });
        process.stdout.write(opts.format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : formatAttribution(result));
        // Bad lines were skipped, the attribution made from the rest; the exit status says some input was not read.
        if (bad) process.exitCode = ExitCode.Unreadable;
      } catch (e) {
        if (e instanceof KnowledgeError || e instanceof EvidenceError) {
          process.stderr.write(`spoor attribute: ${e.message}\n`);
          process.exitCode = ExitCode.Unreadable;
          return;
        }
        throw e;
      }
    });
}

/**
 * Attribution alongside a hunt: evidence is taken from each detection as it is reported (nothing
 * is kept of the events), and ranked at the end. ATT&CK is loaded up front so that a missing copy
 * is said before the hunt, not after it.
 */
export function startAttribution(opts: Partial<AttributeCliOptions>): { add: (d: Detection) => void; report: () => string } {
  let kb: KnowledgeBase | undefined;
  let problem: string | undefined;
  try {
    kb = knowledgeFor(opts.attack);
  } catch (e) {
    problem = (e as Error).message;
    process.stderr.write(`spoor: attribution: ${problem}\n`);
  }
  const index = kb && new KnowledgeIndex(kb);
  const names = index && new NameFinder(index);
  const evidence = new Evidence();
  return {
    add: (d) => {
      if (!index) return;
      evidenceFromDetections([detectionRecord(d)], index, names, evidence);
    },
    report: () => {
      if (!kb) return `Attribution not made: ${problem}\n`;
      addAnalystEvidence(evidence, { sector: opts.sector ?? [], country: opts.country ?? [], top: opts.top ?? '5' });
      return formatAttributionSummary(attribute(kb, evidence, { top: Number(opts.top) || 5 }));
    },
  };
}

/** A detection of this process as attribution reads one from a hunt's JSONL. */
export function detectionRecord(d: Detection): DetectionRecord {
  const r = d.rule.rule;
  return {
    rule: { id: r.id ?? null, title: r.title, level: r.level ?? null, status: r.status ?? null, tags: r.tags, cves: d.rule.cves, description: r.description ?? null },
    matched: d.matched,
    event: d.event,
    file: d.file,
    record_id: d.recordId,
    timestamp: d.timestamp,
    computer: d.computer,
  };
}

/**
 * Evidence from a JSON case file, or from a hunt's JSONL (one detection per line): a bad line is
 * passed to `onBadLine` (named by file and line) and skipped, the others read.
 */
export function readEvidence(file: string, index: KnowledgeIndex, onBadLine: (message: string) => void = () => {}): Evidence {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new EvidenceError(`${file}: ${(e as Error).message}`);
  }
  // A case file is one JSON document, small; a hunt's JSONL may be large and is read a line at a time.
  if (size <= MAX_CASE_FILE) {
    try {
      const whole = JSON.parse(readFileSync(file, 'utf8').trim()) as unknown;
      if (whole && typeof whole === 'object' && !Array.isArray(whole) && !('rule' in whole)) return evidenceFromCase(whole, index, file);
    } catch (e) {
      if (e instanceof EvidenceError) throw new EvidenceError(`${file}: ${e.message}`);
      // not one JSON document: JSON lines
    }
  }
  // Each detection is turned into evidence as it is read: only the evidence, not the records, is kept.
  const names = new NameFinder(index);
  const evidence = new Evidence();
  try {
    for (const record of huntRecords(file, onBadLine)) evidenceFromDetections([record], index, names, evidence);
  } catch (e) {
    if (e instanceof HuntOutputError) throw new EvidenceError(e.message);
    throw e;
  }
  return evidence;
}

/** Largest file read as one case document. */
const MAX_CASE_FILE = 16 * 1024 * 1024;

const pct = (p: number) => (p < 0.001 ? '<0.1%' : `${(100 * p).toFixed(1)}%`);

/** The ranking as a table: the groups and, in its place by probability, the unknown hypothesis. */
function rankingTable(a: Attribution, limit: number): string {
  const rows = a.candidates.slice(0, limit).map((c) => ({ p: c.probability, row: [String(c.rank), c.id, displayName(c), pct(c.probability), c.likelihood, c.supporting.slice(0, 3).map((s) => s.name ?? s.value).join(', ')] }));
  rows.push({ p: a.unknown.probability, row: ['-', '-', 'unknown or unlisted group', pct(a.unknown.probability), a.unknown.likelihood, a.unknown.note] });
  rows.sort((x, y) => y.p - x.p);
  return formatTable(rows.map((r) => r.row), ['#', 'id', 'group', 'probability', 'likelihood', 'strongest evidence'], 70);
}

const knowledgeLine = (a: Attribution) => `Knowledge: ${a.knowledge.sources.join('; ')}; ${a.knowledge.groups} groups with known behaviour. Probabilities are calibrated estimates, not proof.`;

/** An attribution for people: the headline, the ranking, then each leading hypothesis's case for and against. */
export function formatAttribution(a: Attribution): string {
  const lines: string[] = [a.headline, '', rankingTable(a, a.candidates.length)];
  for (const c of a.candidates.slice(0, 3)) {
    lines.push('', `${displayName(c)} (${c.id}): ${c.likelihood} (${pct(c.probability)})${c.otherNames?.length ? `; also called ${c.otherNames.join(', ')}` : ''}${origin(c)}`);
    lines.push(`  consistent: ${c.supporting.slice(0, 8).map(reason).join('; ') || 'nothing'}`);
    lines.push(`  inconsistent: ${inconsistency(c)}`);
    if (c.alternative) {
      lines.push(`  against ${c.alternative.name} (${pct(c.alternative.probability)}): for ${c.name}: ${c.alternative.favours.slice(0, 5).map(reason).join('; ') || 'nothing the other lacks'}; for ${c.alternative.name}: ${c.alternative.disfavours.slice(0, 5).map(reason).join('; ') || 'nothing'}`);
    }
  }
  lines.push(...infrastructureLines(a));
  for (const n of a.notes) lines.push(`note: ${n}`);
  lines.push('', knowledgeLine(a));
  return `${lines.join('\n')}\n`;
}

/**
 * The short form a scan ends with: the headline, the first five hypotheses, and the leader's case in
 * the terms of Analysis of Competing Hypotheses (consistent, inconsistent, what tells it from the
 * runner-up). `spoor attribute` gives the whole.
 */
export function formatAttributionSummary(a: Attribution): string {
  if (a.weakEvidence) return `Attribution\nNot made: every finding is low or informational, which ordinary activity raises too; nothing here points to an intrusion to attribute (spoor attribute -i on the JSONL ranks the groups anyway).\n`;
  const lines: string[] = ['Attribution', a.headline, '', rankingTable(a, 5)];
  const c = a.candidates[0];
  if (c) {
    lines.push('', `${displayName(c)}: ${c.likelihood} (${pct(c.probability)})${c.otherNames?.length ? `; also called ${c.otherNames.slice(0, 4).join(', ')}` : ''}${origin(c)}`);
    // The three pillars first (what was exploited, who the victim is, where the attacker came from), then the strongest behaviour.
    const traits = c.supporting.filter((r) => r.kind !== 'technique' && r.kind !== 'software');
    const behaviour = c.supporting.filter((r) => r.kind === 'technique' || r.kind === 'software').slice(0, Math.max(3, 7 - traits.length));
    lines.push(`  consistent: ${[...traits, ...behaviour].map(reason).join('; ') || 'nothing'}`);
    lines.push(`  inconsistent: ${inconsistency(c)}`);
    if (c.alternative) lines.push(`  against ${displayName(c.alternative)} (${pct(c.alternative.probability)}): only ${c.name} explains ${c.alternative.favours.slice(0, 4).map((r) => r.name ?? r.value).join(', ') || 'nothing the other does not'}; only ${c.alternative.name} explains ${c.alternative.disfavours.slice(0, 4).map((r) => r.name ?? r.value).join(', ') || 'nothing'}`);
  }
  lines.push(...infrastructureLines(a));
  lines.push('', `${knowledgeLine(a)} The whole case for and against each: spoor attribute, or the HTML report (--report DIR).`);
  return `${lines.join('\n')}\n`;
}

const origin = (c: Candidate) => (c.origin ? `; suspected origin ${countryName(c.origin)}${c.sponsor ? `, state sponsor ${countryName(c.sponsor)}` : ''} (MISP galaxy)` : '');

function inconsistency(c: Candidate): string {
  const against = c.inconsistent.filter((r) => r.weight < 0 || r.kind !== 'technique');
  const unexplained = c.inconsistent.filter((r) => r.kind === 'technique' && r.weight === 0).length;
  return [...against.slice(0, 6).map(reason), ...(unexplained ? [`${unexplained} observed technique(s) not known for it`] : [])].join('; ') || 'nothing';
}

function infrastructureLines(a: Attribution): string[] {
  if (!a.infrastructure.length) return [];
  const leased = a.infrastructure.filter((i) => i.kind !== 'other');
  return ['', `Infrastructure: ${a.infrastructure.length} external address(es), ${leased.length} in server, cloud or VPN networks: ${leased.slice(0, 6).map((i) => `${i.ip} (AS${i.asn} ${i.operator ?? ''}, ${i.country ?? '??'}, ${i.kind})`).join(', ')}`];
}

function reason(r: { kind: string; value: string; name?: string; note: string }): string {
  return `${r.name ? `${r.name} (${r.value})` : `${r.kind} ${r.value}`}: ${r.note}`;
}
