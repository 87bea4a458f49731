import { type ChildProcess, spawn } from 'node:child_process';
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
  stop: () => Promise<void>;
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
  return {
    child,
    url,
    base: `${u.origin}/`,
    token: new URLSearchParams(u.hash.slice(1)).get('token')!,
    stderr,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
