import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ExitCode } from './options.js';

// A reader that goes away (`spoor help hunt | head`) ends the output, not the process with a stack
// trace; a command that writes through its own StreamOutput has a listener of its own and goes on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    if (stream.listenerCount('error') === 1) process.exit(process.exitCode ?? 0);
  });
}

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('spoor')
  .description('Hunt intrusions in Windows and Exchange evidence, check exposure, attribute and report.')
  .version(pkg.version)
  .showHelpAfterError()
  .exitOverride();

/**
 * The commands, each loaded only when it runs: a command's module brings its dependencies (DuckDB,
 * the web server, attribution's knowledge …), and loading every one cost each run about 0.4 s and
 * 50 MB before it began. Help, or a name that is no command, loads them all.
 */
const COMMANDS: [string, () => Promise<Command>][] = [
  ['dump', async () => (await import('./commands/dump.js')).dumpCommand()],
  ['hunt', async () => (await import('./commands/hunt.js')).huntCommand()],
  ['rules', async () => (await import('./commands/rules.js')).rulesCommand()],
  ['exchange', async () => (await import('./commands/exchange.js')).exchangeCommand()],
  ['mail-access', async () => (await import('./commands/mail-access.js')).mailAccessCommand()],
  ['attribute', async () => (await import('./commands/attribute.js')).attributeCommand()],
  ['report', async () => (await import('./commands/report.js')).reportCommand()],
  ['serve', async () => (await import('./commands/serve.js')).serveCommand()],
  ['sql', async () => (await import('./commands/sql.js')).sqlCommand()],
  ['ingest', async () => (await import('./commands/sql.js')).ingestCommand()],
  ['query', async () => (await import('./commands/sql.js')).queryCommand()],
  ['demo', async () => (await import('./commands/demo.js')).demoCommand()],
  ['update', async () => (await import('./commands/update.js')).updateCommand()],
];

/** The command a command line names: its first word that is not an option (undefined for none, as in `spoor --help`). */
function commandNamed(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

const named = commandNamed(process.argv);
const wanted = COMMANDS.filter(([name]) => name === named);
for (const [, load] of wanted.length ? wanted : COMMANDS) {
  const command = await load();
  program.addCommand(command.exitOverride().showHelpAfterError());
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  } else {
    process.stderr.write(`spoor: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 70;
  }
}
