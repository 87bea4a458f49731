import { spawn } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MAIL_ACCESS_FILE } from '../report/mail-access.js';
import type { FinishTask } from './finish-worker.js';
import type { CaseRow, CaseStore } from './store.js';

const SPOOR = fileURLToPath(new URL('../../../bin/spoor.js', import.meta.url));

export interface JobOptions {
  store: CaseStore;
  /** The store's file, which the import opens on its own thread. */
  db: string;
  caseDir: (id: number) => string;
  /** ATT&CK for reports and attribution (default: what spoor update installed, else the shipped copy). */
  attack?: string;
  /** The folders evidence may come from: links in an evidence folder are followed only into them. */
  evidenceRoots: string[];
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
  private readonly finishing = new Set<Worker>();

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
    // Links inside an evidence folder lead nowhere the server could not be pointed at itself.
    const within = [...this.o.evidenceRoots, dir].flatMap((d) => ['--within', d]);
    // Uploaded files bear the upload's time, not the server's: their findings are left undated rather than stretch the timeline to today.
    const times = c.kind === 'exchange' && !c.evidencePath ? ['--no-file-times'] : [];
    // A scan of a server says which mailboxes were reached (a plain hunt would read its evidence twice for it).
    const mail = join(dir, MAIL_ACCESS_FILE);
    rmSync(`${mail}.part`, { force: true });
    const mailArgs = c.kind === 'exchange' ? ['--mail-json', `${mail}.part`] : [];
    const args = [SPOOR, ...command, ...inputs, '-f', 'jsonl', '-o', `${out}.part`, ...mailArgs, '--progress-json', '--no-progress', ...within, ...times, ...this.o.huntArguments];
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
        rmSync(`${mail}.part`, { force: true });
        // The log of the last hunt that finished stays beside its results.
        const how = signal ? `was stopped by ${signal}${signal === 'SIGKILL' ? ' (out of memory, or killed)' : ''}` : `ended with status ${code}`;
        this.o.store.setStatus(c.id, 'failed', `the hunt ${how}${log.length ? `: ${log.slice(-3).join(' | ')}` : ''}`);
        return;
      }
      writeFileSync(join(dir, 'hunt.log'), log.join('\n') + '\n');
      renameSync(`${out}.part`, out);
      // The mail access this run found, or none: an earlier run's must not stand beside these results.
      if (existsSync(`${mail}.part`)) renameSync(`${mail}.part`, mail);
      else rmSync(mail, { force: true });
      this.finish(c, out, sectors, code === 1 ? log.filter((l) => /unreadable|not read|corrupt|error/i.test(l)).slice(-3).join(' | ') : '').catch((e: Error) => this.o.store.setStatus(c.id, 'failed', `after the hunt: ${e.message}`));
    });
  }

  /** Detections into the database and the report files, on a worker thread (see finish-worker.ts). */
  private finish(c: CaseRow, file: string, sectors: string[], warning: string): Promise<void> {
    const task: FinishTask = { db: this.o.db, caseId: c.id, title: c.name, file, dir: this.o.caseDir(c.id), sectors, warning, ...(this.o.attack ? { attack: this.o.attack } : {}) };
    const worker = new Worker(new URL('./finish-worker.js', import.meta.url), { workerData: task });
    this.finishing.add(worker);
    return new Promise<void>((resolve, reject) => {
      let answered = false;
      worker.once('message', (m: { ok?: boolean; error?: string }) => {
        answered = true;
        if (m.error !== undefined) reject(new Error(m.error));
        else resolve();
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        this.finishing.delete(worker);
        if (!answered) reject(new Error(`the import stopped (exit code ${code})`));
      });
    });
  }

  stopAll(): Promise<unknown> {
    for (const child of this.running.values()) child.kill('SIGTERM');
    return Promise.all([...this.finishing].map((w) => w.terminate()));
  }
}
