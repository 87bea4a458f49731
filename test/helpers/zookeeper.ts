import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopServer } from './clickhouse.js';

/** Debian's ZooKeeper (package `zookeeper`, which .ci/run installs): the server class, run standalone without its service scripts. */
const JAR = '/usr/share/java/zookeeper.jar';

export interface TestZooKeeper {
  port: number;
  stop: () => Promise<void>;
}

/** What the server answers to a four-letter command ('' while it is not up). */
const ask = (port: number, command: string) =>
  new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('connect', () => socket.write(command));
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(''));
  });

/** A standalone ZooKeeper on loopback with its own data folder, for replicated ClickHouse tables in tests. */
export async function startZooKeeper(port: number): Promise<TestZooKeeper> {
  const dir = mkdtempSync(join(tmpdir(), 'spoor-zookeeper-'));
  // A small heap: the 2-core test machine runs two ClickHouse servers beside it.
  const child: ChildProcess = spawn('java', ['-Xmx256m', '-Dzookeeper.admin.enableServer=false', '-cp', JAR, 'org.apache.zookeeper.server.ZooKeeperServerMain', String(port), dir], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    if ((await ask(port, 'srvr')).includes('Mode: standalone')) break;
    if (i > 300 || child.exitCode !== null) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`zookeeper did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    stop: () => stopServer(child, dir),
  };
}
