import { closeSync, openSync, readSync } from 'node:fs';
import { buildText, parseBuild } from './build.js';

/** The Exchange build a collected server ran, and where that was read. */
export interface BuildSeen {
  build: string;
  /** The log it was read from, and that log's #Date. */
  file: string;
  date: string;
}

function head(file: string, bytes = 2048): string {
  const buf = Buffer.alloc(bytes);
  try {
    const fd = openSync(file, 'r');
    try {
      return buf.toString('utf8', 0, readSync(fd, buf, 0, bytes, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * The build of the server whose logs these are: Exchange writes its build in each log's #Version
 * directive (HttpProxy, EWS, Message Tracking …; some components write 15.0.0.0 whatever the build,
 * and are left out). The newest log (by #Date) tells the build the server ran last.
 */
export function buildFromLogs(files: readonly string[]): BuildSeen | undefined {
  let best: BuildSeen | undefined;
  for (const file of files) {
    if (!/[\\/](logging|transportroles)[\\/]/i.test(file)) continue;
    const text = head(file);
    if (!/^#Software: Microsoft Exchange/m.test(text)) continue;
    const version = /^#Version: (\S+)/m.exec(text)?.[1];
    const b = version ? parseBuild(version) : undefined;
    if (!b || b[2] === 0) continue;
    const date = /^#Date: (\S+)/m.exec(text)?.[1] ?? '';
    if (!best || date > best.date) best = { build: buildText(b), file, date };
  }
  return best;
}
