import { spawn } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KnowledgeError, type KnowledgeBase } from '../attribution/knowledge.js';
import { normaliseSector } from '../attribution/victimology.js';
import { buildCase, writeCase } from '../report/case.js';
import { REPORT_FORMATS } from '../report/formats.js';
import { readHuntOutput } from '../report/hunt-output.js';
import type { CaseRow, CaseStore } from './store.js';

const SPOOR = fileURLToPath(new URL('../../../bin/spoor.js', import.meta.url));

export interface JobOptions {
  store: CaseStore;
  caseDir: (id: number) => string;
  /** ATT&CK for reports and attribution, loaded once when first needed. */
  knowledge: () => KnowledgeBase | undefined;
  knowledgeNote: () => string | undefined;
  /** More arguments for every hunt (rules, IoC feeds). */
  huntArguments: string[];
}

/**
 * Hunts run as child processes of the server: a hostile file that made a hunt fail could not take
 * the server (and every other case) down with it, and the hunt uses spoor's command line exactly as
 * a user would. Its progress comes back as JSON lines on stderr.
 */
export class HuntJobs {
  private readonly running = new Map<number, ReturnType<typeof spawn>>();

  constructor(private readonly o: JobOptions) {}

  isRunning(id: number): boolean {
    return this.running.has(id);
  }

  runningCount(): number {
    return this.running.size;
  }

  start(c: CaseRow, sectors: string[]): void {
    const dir = this.o.caseDir(c.id);
    const paths = [join(dir, 'uploads'), ...(c.evidencePath ? [c.evidencePath] : [])].filter((p) => existsSync(p));
    const out = join(dir, 'detections.jsonl');
    const command = c.kind === 'exchange' ? ['exchange', 'scan'] : ['hunt'];
    // exchange scan reads one server folder: the evidence folder, else the uploads.
    const inputs = c.kind === 'exchange' ? paths.slice(-1) : paths;
    const args = [SPOOR, ...command, ...inputs, '-f', 'jsonl', '-o', `${out}.part`, '--progress-json', '--no-progress', ...this.o.huntArguments];
    this.o.store.setStatus(c.id, 'running');
    this.o.store.setProgress(c.id, { phase: 'starting' });
    const log: string[] = [];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: '' } });
    this.running.set(c.id, child);
    child.on('error', (e) => {
      this.running.delete(c.id);
      this.o.store.setStatus(c.id, 'failed', `the hunt could not start: ${e.message}`);
    });
    let pending = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith('{"progress"')) {
          try {
            this.o.store.setProgress(c.id, { phase: 'hunting', ...(JSON.parse(line) as { progress: object }).progress });
          } catch {
            // a cut line: the next one will do
          }
        } else if (line.trim()) {
          log.push(line);
          if (log.length > 200) log.shift();
        }
      }
      if (pending.length > 65536) pending = '';
    });
    child.on('close', (code, signal) => {
      this.running.delete(c.id);
      if (code !== 0 && code !== 1) {
        rmSync(`${out}.part`, { force: true });
        // The log of the last hunt that finished stays beside its results.
        const how = signal ? `was stopped by ${signal}${signal === 'SIGKILL' ? ' (out of memory, or killed)' : ''}` : `ended with status ${code}`;
        this.o.store.setStatus(c.id, 'failed', `the hunt ${how}${log.length ? `: ${log.slice(-3).join(' | ')}` : ''}`);
        return;
      }
      writeFileSync(join(dir, 'hunt.log'), log.join('\n') + '\n');
      renameSync(`${out}.part`, out);
      this.finish(c, out, sectors, code === 1 ? log.filter((l) => /unreadable|not read|corrupt|error/i.test(l)).slice(-3).join(' | ') : '').catch((e: Error) => this.o.store.setStatus(c.id, 'failed', `after the hunt: ${e.message}`));
    });
  }

  /** Detections into the database, then the report files: the case is done only when both are. */
  private async finish(c: CaseRow, file: string, sectors: string[], warning: string): Promise<void> {
    const store = this.o.store;
    store.setProgress(c.id, { phase: 'importing' });
    const bad: string[] = [];
    await store.replaceDetections(c.id, readHuntOutput(file, (m) => bad.push(m)));
    store.setProgress(c.id, { phase: 'reporting' });
    let kb: KnowledgeBase | undefined;
    try {
      kb = this.o.knowledge();
    } catch (e) {
      if (!(e instanceof KnowledgeError)) throw e;
    }
    const report = await buildCase(readHuntOutput(file, () => undefined), {
      title: c.name,
      tool: 'spoor serve',
      ...(kb ? { kb } : { attributionNote: this.o.knowledgeNote() ?? 'No attribution: no ATT&CK knowledge.' }),
      analyst: (e) => {
        for (const s of sectors) e.add('sector', normaliseSector(s), 'analyst (web UI)');
      },
    });
    const dir = this.o.caseDir(c.id);
    writeCase(report, dir, REPORT_FORMATS, kb);
    writeFileSync(join(dir, 'report.json.part'), JSON.stringify(report));
    renameSync(join(dir, 'report.json.part'), join(dir, 'report.json'));
    store.setProgress(c.id, { phase: 'done' });
    store.setStatus(c.id, 'done', [warning, bad.length ? `${bad.length} unreadable detection lines` : ''].filter(Boolean).join('; ') || null);
  }

  stopAll(): void {
    for (const child of this.running.values()) child.kill('SIGTERM');
  }
}
