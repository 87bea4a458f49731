import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { demoCommand } from './commands/demo.js';
import { dumpCommand } from './commands/dump.js';
import { attributeCommand } from './commands/attribute.js';
import { reportCommand } from './commands/report.js';
import { serveCommand } from './commands/serve.js';
import { ingestCommand, queryCommand, sqlCommand } from './commands/sql.js';
import { exchangeCommand } from './commands/exchange.js';
import { huntCommand } from './commands/hunt.js';
import { rulesCommand } from './commands/rules.js';
import { updateCommand } from './commands/update.js';
import { ExitCode } from './options.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('spoor')
  .description('Hunt intrusions in Windows and Exchange evidence, check exposure, attribute and report.')
  .version(pkg.version)
  .showHelpAfterError()
  .exitOverride();

for (const command of [dumpCommand(), huntCommand(), rulesCommand(), exchangeCommand(), attributeCommand(), reportCommand(), serveCommand(), sqlCommand(), ingestCommand(), queryCommand(), demoCommand(), updateCommand()]) {
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
