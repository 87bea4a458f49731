import { Command } from 'commander';
import { exchangeBuildCommand } from './exchange-build.js';
import { exchangeScanCommand } from './exchange-scan.js';

export function exchangeCommand(): Command {
  const exchange = new Command('exchange').description('Exchange servers: exposure of a build, and a scan of evidence collected from a server');
  exchange.addCommand(exchangeBuildCommand().exitOverride().showHelpAfterError());
  exchange.addCommand(exchangeScanCommand().exitOverride().showHelpAfterError());
  return exchange;
}
