import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { spoorHome } from '../../common/home.js';
import { startServer } from '../../server/server.js';
import { defaultRules } from '../default-rules.js';
import { ExitCode } from '../options.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError('expected a size, e.g. 500M or 2G');
  return Math.floor(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number (0: any free port)');
  return n;
}

function parseHunts(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('expected a whole number from 1 to 64');
  return n;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('a local web UI: cases, uploads, hunts with live progress, detections, attribution, and the report, STIX and Navigator downloads')
    .option('--host <address>', 'address to listen on (anything but loopback exposes your evidence to the network)', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', parsePort, 8765)
    .option('--evidence-root <dir>', 'a folder whose sub-folders cases may name as evidence (repeatable; default: the current folder)', collect)
    .option('--max-upload <size>', 'largest upload', parseSize, 2 * 1024 ** 3)
    .option('--disk-reserve <size>', 'free disk space an upload must leave (it is refused, or cut off, before)', parseSize, 256 * 1024 ** 2)
    .option('--max-hunts <n>', 'hunts run at once over all cases; more are refused until one finishes', parseHunts, 2)
    .option('--attack <bundle.json>', 'ATT&CK Enterprise STIX bundle for attribution (default: the copy `spoor update` installs)')
    .option('-r, --rules <paths...>', 'Sigma rules for every hunt (default: as spoor hunt)')
    .option('--ioc <file>', 'an indicator feed for every hunt (repeatable)', collect)
    .addHelpText('after', `
Cases live in SPOOR_HOME (${spoorHome()}): cases.sqlite and cases/<id>/ with uploads, detections and
reports, readable by their user only. The server prints its address with a token after #; the API
needs it as Authorization: Bearer (the page keeps it in this origin's sessionStorage). Hunts run as child processes; a server stopped during one marks it interrupted.
Exit status: 0 when stopped with Ctrl-C, 1 when it cannot listen, 2 on bad usage.`)
    .action(async (opts: { host: string; port: number; evidenceRoot?: string[]; maxUpload: number; diskReserve: number; maxHunts: number; attack?: string; rules?: string[]; ioc?: string[] }) => {
      const say = (m: string) => process.stderr.write(`spoor serve: ${m}\n`);
      let roots: string[];
      try {
        roots = (opts.evidenceRoot?.length ? opts.evidenceRoot : [process.cwd()]).map((r) => realpathSync(resolve(r)));
      } catch (e) {
        say(`--evidence-root: ${(e as Error).message}`);
        process.exitCode = ExitCode.Usage;
        return;
      }
      // ATT&CK is loaded where each hunt's report is made (off the server's thread); a missing file is said now.
      const attack = opts.attack ? resolve(opts.attack) : undefined;
      if (attack && !existsSync(attack)) {
        say(`--attack ${opts.attack}: no such file`);
        process.exitCode = ExitCode.Usage;
        return;
      }
      const huntArguments = [...(opts.rules?.length ? ['--rules', ...opts.rules] : []), ...(opts.ioc ?? []).flatMap((f) => ['--ioc', resolve(f)])];
      const ruleSet = { rules: opts.rules?.length ? opts.rules.map((r) => resolve(r)).join(', ') : defaultRules().source, iocFeeds: (opts.ioc ?? []).map((f) => resolve(f)) };
      let running;
      try {
        running = await startServer({ home: spoorHome(), host: opts.host, port: opts.port, evidenceRoots: roots, maxUpload: opts.maxUpload, diskReserve: opts.diskReserve, maxHunts: opts.maxHunts, ...(attack ? { attack } : {}), huntArguments, ruleSet, ...(process.env.SPOOR_TOKEN ? { token: process.env.SPOOR_TOKEN } : {}) });
      } catch (e) {
        say(`cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}`);
        process.exitCode = ExitCode.Unreadable;
        return;
      }
      if (opts.host !== '127.0.0.1' && opts.host !== '::1' && opts.host !== 'localhost') say(`warning: listening on ${opts.host}, not only on this machine`);
      say(`evidence folders allowed under: ${roots.join(', ')}`);
      process.stdout.write(`${running.url}#token=${running.token}\n`);
      const stop = () => {
        void running.close().then(() => process.exit(ExitCode.Ok));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
