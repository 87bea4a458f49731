import { createReadStream, createWriteStream, renameSync, rmSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { knowledgeFor } from '../attribution/installed-knowledge.js';
import { KnowledgeError, type KnowledgeBase } from '../attribution/knowledge.js';
import { normaliseSector } from '../attribution/victimology.js';
import { buildCase, writeCase } from '../report/case.js';
import { REPORT_FORMATS } from '../report/formats.js';
import { readHuntOutput } from '../report/hunt-output.js';
import { MAIL_ACCESS_FILE, type MailAccessReport, readMailAccessReport } from '../report/mail-access.js';
import { CaseStore } from './store.js';

/** What a finished hunt's import needs: the store, the case, its detections file and folder, what the analyst said. */
export interface FinishTask {
  db: string;
  caseId: number;
  title: string;
  file: string;
  dir: string;
  sectors: string[];
  attack?: string;
  /** What the hunt's exit said (problems with its input), kept in the case's message. */
  warning: string;
}

/**
 * A hunt's detections into the database, then its report files, off the server's thread: importing
 * and reporting hundreds of thousands of detections takes tens of seconds, in which the server must
 * go on answering. The case is done only when both are.
 */
async function finish(t: FinishTask): Promise<void> {
  const store = new CaseStore(t.db, false);
  try {
    store.setProgress(t.caseId, { phase: 'importing' });
    const bad: string[] = [];
    await store.replaceDetections(t.caseId, readHuntOutput(t.file, (m) => bad.push(m)));
    store.setProgress(t.caseId, { phase: 'reporting' });
    let kb: KnowledgeBase | undefined;
    let note = 'No attribution: no ATT&CK knowledge.';
    try {
      kb = knowledgeFor(t.attack);
    } catch (e) {
      if (!(e instanceof KnowledgeError)) throw e;
      note = `No attribution: ${e.message}`;
    }
    let mailAccess: MailAccessReport | undefined;
    let mailProblem = '';
    try {
      mailAccess = readMailAccessReport(join(t.dir, MAIL_ACCESS_FILE));
    } catch (e) {
      mailProblem = (e as Error).message;
    }
    const report = await buildCase(readHuntOutput(t.file, () => undefined), {
      title: t.title,
      ...(mailAccess ? { mailAccess } : {}),
      tool: 'spoor serve',
      ...(kb ? { kb } : { attributionNote: note }),
      analyst: (e) => {
        for (const s of t.sectors) e.add('sector', normaliseSector(s), 'analyst (web UI)');
      },
    });
    writeCase(report, t.dir, REPORT_FORMATS, kb);
    // What the case's views read, each written whole: the summary without the rows, the attribution alone.
    const { detections: _rows, attribution, ...summary } = report as unknown as Record<string, unknown>;
    for (const [name, value] of [['summary.json', summary], ['attribution.json', { attribution: attribution ?? null, note: report.attributionNote ?? null }]] as const) {
      writeFileSync(join(t.dir, `${name}.part`), JSON.stringify(value));
      renameSync(join(t.dir, `${name}.part`), join(t.dir, name));
    }
    // Kept for download, gzipped: JSON lines of events take a tenth of the space so (a large case's biggest file).
    await pipeline(createReadStream(t.file), createGzip(), createWriteStream(`${t.file}.gz.part`));
    renameSync(`${t.file}.gz.part`, `${t.file}.gz`);
    rmSync(t.file);
    store.setProgress(t.caseId, { phase: 'done' });
    store.setStatus(t.caseId, 'done', [t.warning, bad.length ? `${bad.length} unreadable detection lines` : '', mailProblem].filter(Boolean).join('; ') || null);
  } finally {
    store.close();
  }
}

finish(workerData as FinishTask).then(
  () => parentPort!.postMessage({ ok: true }),
  (e: Error) => parentPort!.postMessage({ error: e.message }),
);
