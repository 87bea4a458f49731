import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { generateExchangeServer } from '../../demo/exchange-server.js';
import { type Intrusion, INTRUSIONS } from '../../demo/exchange-intrusion.js';
import { ExitCode } from '../options.js';

/** Reads a size: 50MB, 2GB, 800k, or bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(text.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 20MB or 2GB');
  const unit = (m[2] ?? 'b')[0]!.toLowerCase();
  return Math.round(Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1));
}

function parseIntrusions(text: string): Intrusion[] {
  if (text === 'none') return [];
  const list = text.split(',').map((s) => s.trim().toLowerCase());
  for (const k of list) if (!(INTRUSIONS as readonly string[]).includes(k)) throw new InvalidArgumentError(`expected none, or some of ${INTRUSIONS.join(', ')}`);
  return list as Intrusion[];
}

/** What the generator writes at a folder's top: a folder holding only these, and its ground truth, is one it wrote. */
const DEMO_ENTRIES = new Set(['ground-truth.json', 'inetpub', 'Program Files', 'Windows', 'ProgramData']);

function isDemoFolder(dir: string): boolean {
  try {
    const truth = JSON.parse(readFileSync(join(dir, 'ground-truth.json'), 'utf8')) as { generator?: string };
    return truth.generator === 'spoor demo generate' && readdirSync(dir).every((n) => DEMO_ENTRIES.has(n));
  } catch {
    return false;
  }
}

export function demoCommand(): Command {
  const demo = new Command('demo').description('make evidence to try Spoor on');
  demo
    .command('generate')
    .description('write the evidence folder of a simulated, compromised Exchange server, with its ground truth')
    .argument('<dir>', 'folder to write (created; if it exists it must be empty, or one this command wrote, which is written afresh)')
    .option('--size <size>', 'about how much log data to write (background traffic fills it)', parseSize, parseSize('20MB'))
    .option('--intrusion <list>', `intrusions to plant: none, or some of ${INTRUSIONS.join(', ')}`, parseIntrusions, ['proxylogon'] as Intrusion[])
    .option('--seed <n>', 'random seed: the same seed writes the same folder', (v) => Number.parseInt(v, 10), 2021)
    .option('--days <n>', 'how many days the logs cover', (v) => Number.parseInt(v, 10), 3)
    .addHelpText('after', `
The folder looks like an Exchange 2016 CU19 server's C: drive copied for analysis: IIS logs
(inetpub/logs/LogFiles/W3SVC1), Exchange logs (HttpProxy per protocol, ECP server, OAB generator,
Message Tracking), event logs (Windows/System32/winevt/Logs: Application, Security, Sysmon,
MSExchange Management), the OWA and aspnet_client web folders, ProgramData. A few hundred users
read mail through Outlook, phones and OWA from 1 March 2021; the intrusions follow the published
chains (ProxyLogon as HAFNIUM ran it, ProxyShell, ProxyNotShell). ground-truth.json lists each
planted step and the file, line or event record it left. Then: spoor exchange scan <dir>.`)
    .action((dir: string, opts: { size: number; intrusion: Intrusion[]; seed: number; days: number }) => {
      const target = resolve(dir);
      if (existsSync(target) && readdirSync(target).length > 0) {
        // A folder this command wrote before is written afresh; any other is left alone.
        if (!isDemoFolder(target)) {
          process.stderr.write(`spoor demo generate: ${target} is not empty and not a folder spoor demo generate wrote; give a new folder\n`);
          process.exitCode = ExitCode.Usage;
          return;
        }
        for (const name of readdirSync(target)) rmSync(join(target, name), { recursive: true, force: true });
      }
      const started = Date.now();
      const truth = generateExchangeServer({ dir: target, bytes: opts.size, seed: opts.seed, intrusions: opts.intrusion, start: Date.UTC(2021, 2, 1), days: Math.max(1, opts.days) });
      process.stderr.write(`spoor demo generate: ${target}: Exchange server ${truth.server.fqdn} (build ${truth.server.build}), ${truth.steps.length} planted steps (${truth.intrusions.join(', ') || 'no intrusion'}) in ${((Date.now() - started) / 1000).toFixed(1)} s; ground truth in ground-truth.json\n`);
    });
  return demo;
}
