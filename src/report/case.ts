import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attribute } from '../attribution/attribute.js';
import { Evidence, NameFinder, evidenceFromDetections } from '../attribution/evidence.js';
import { KnowledgeIndex, type KnowledgeBase } from '../attribution/knowledge.js';
import { type CaseReport, CaseReportBuilder } from './case-report.js';
import type { HuntRecord } from './hunt-output.js';
import type { MailAccessReport } from './mail-access.js';
import { REPORT_FILES, type ReportFormat } from './formats.js';
import { caseToHtml } from './html.js';
import { caseToNavigator } from './navigator.js';
import { caseToStix } from './stix.js';


export interface CaseOptions {
  title: string;
  tool: string;
  /** ATT&CK, for technique names, the full matrix and attribution; without it, `attributionNote` says why there is none. */
  kb?: KnowledgeBase;
  attributionNote?: string;
  /** The analyst's evidence (victim sectors, countries) added to what the detections show. */
  analyst?: (e: Evidence) => void;
  top?: number;
  maxRows?: number;
  mailAccess?: MailAccessReport;
}

/** A case's report from a hunt's detections: tallies, the listed detections and, with ATT&CK, the attribution. */
export async function buildCase(records: AsyncIterable<HuntRecord> | Iterable<HuntRecord>, options: CaseOptions): Promise<CaseReport> {
  const builder = new CaseReportBuilder(options.maxRows);
  const index = options.kb && new KnowledgeIndex(options.kb);
  const names = index && new NameFinder(index);
  const evidence = new Evidence();
  for await (const d of records) {
    builder.add(d);
    if (index) evidenceFromDetections([d], index, names, evidence);
  }
  options.analyst?.(evidence);
  const attribution = options.kb ? attribute(options.kb, evidence, { top: options.top ?? 5 }) : undefined;
  return builder.build({ title: options.title, tool: options.tool, ...(options.kb ? { kb: options.kb } : {}), ...(options.mailAccess ? { mailAccess: options.mailAccess } : {}), ...(attribution ? { attribution } : { attributionNote: options.attributionNote ?? 'No attribution: no ATT&CK knowledge was given.' }) });
}

/** Writes the chosen outputs into a folder (each file whole or not at all); returns their paths. */
export function writeCase(report: CaseReport, dir: string, formats: readonly ReportFormat[], kb?: KnowledgeBase): string[] {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (const f of formats) {
    const body = f === 'html' ? caseToHtml(report) : JSON.stringify(f === 'stix' ? caseToStix(report, kb ? { kb } : {}) : caseToNavigator(report), null, 2) + '\n';
    const file = join(dir, REPORT_FILES[f]);
    writeFileSync(`${file}.part`, body);
    renameSync(`${file}.part`, file);
    out.push(file);
  }
  return out;
}
