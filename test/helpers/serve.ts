import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { SPOOR } from './paths.js';

export interface Served {
  child: ChildProcess;
  /** http://127.0.0.1:PORT/ */
  base: string;
  token: string;
  /** The address spoor serve printed, token included. */
  url: string;
  stderr: string[];
  /** GETs a path of the API with the token, and its JSON answer. */
  get: <T>(path: string) => Promise<T>;
  /** Waits (up to 5 s) for the server's hunt processes to start, and kills them with SIGKILL. */
  killHunts: () => Promise<void>;
  stop: () => Promise<void>;
}

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number | undefined): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Starts `spoor serve` on a free port with its own SPOOR_HOME; resolves once it prints its address. */
export async function serve(home: string, ...args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [SPOOR, 'serve', '--port', '0', ...args], { env: { ...process.env, SPOOR_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`spoor serve exited with ${code}: ${stderr.join('\n')}`)));
  });
  const u = new URL(url);
  const token = new URLSearchParams(u.hash.slice(1)).get('token')!;
  return {
    child,
    url,
    base: `${u.origin}/`,
    token,
    stderr,
    get: async <T>(path: string) => (await (await fetch(new URL(path, `${u.origin}/`), { headers: { authorization: `Bearer ${token}` } })).json()) as T,
    killHunts: async () => {
      let pids: number[] = [];
      for (let i = 0; i < 200 && !pids.length; i++) {
        await new Promise((r) => setTimeout(r, 25));
        pids = childrenOf(child.pid);
      }
      if (!pids.length) throw new Error('no hunt process started');
      for (const pid of pids) process.kill(pid, 'SIGKILL');
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
