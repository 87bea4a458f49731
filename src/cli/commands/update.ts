import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { spoorHome } from '../../common/home.js';
import { checkAttackBundle } from '../../update/attack.js';
import { clustersFromGalaxy } from '../../attribution/galaxy.js';
import { GALAXY_FILES } from '../../attribution/knowledge-store.js';
import { download } from '../../update/download.js';
import { extractSigmaArchive } from '../../update/sigma-archive.js';
import { buildTableCsv, EXCHANGE_BUILDS_URL, parseBuildDictionary } from '../../update/exchange-builds.js';
import { BUNDLED_EXCHANGE_DATA, parseBuildRows } from '../../exchange/tables.js';
import { ExitCode } from '../options.js';

export const SIGMA_URL = 'https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_all_rules.zip';
export const ATTACK_URL = 'https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/enterprise-attack/enterprise-attack.json';
/** The MISP galaxy's cluster files (CC0 / BSD-2-Clause): threat actors with every vendor's names, Microsoft's activity groups. */
export const GALAXY_URL = 'https://raw.githubusercontent.com/MISP/misp-galaxy/main/clusters/';

interface UpdateOptions {
  only?: 'sigma' | 'attack' | 'cti' | 'exchange';
  sigmaUrl: string;
  attackUrl: string;
  galaxyUrl: string;
  exchangeUrl: string;
  sigmaSha256?: string;
  attackSha256?: string;
}

export function updateCommand(): Command {
  return new Command('update')
    .description('download the latest SigmaHQ rules, MITRE ATT&CK Enterprise, the MISP galaxy\'s threat actors and the Exchange build list into the data directory')
    .addOption(new Option('--only <what>', 'update just one of them').choices(['sigma', 'attack', 'cti', 'exchange']))
    .option('--sigma-url <url>', 'where the SigmaHQ release archive is', SIGMA_URL)
    .option('--attack-url <url>', 'where the ATT&CK Enterprise STIX bundle is', ATTACK_URL)
    .option('--galaxy-url <url>', "where the MISP galaxy's cluster files are (a folder URL ending in /)", GALAXY_URL)
    .option('--exchange-url <url>', "where CSS-Exchange's Get-ExchangeBuildVersionInformation.ps1 is", EXCHANGE_BUILDS_URL)
    .option('--sigma-sha256 <hex>', 'refuse the rule archive unless it has this SHA-256')
    .option('--attack-sha256 <hex>', 'refuse the ATT&CK bundle unless it has this SHA-256')
    .addHelpText('after', `
The data directory is $SPOOR_HOME, else $XDG_DATA_HOME/spoor or ~/.local/share/spoor; commands use
its rules (sigma/), ATT&CK (attack/), the MISP galaxy (cti/) and Exchange build list (exchange/)
unless told otherwise; without them, the knowledge and rules Spoor ships. What is downloaded is checked before
it replaces anything: a transfer cut short, a digest that does not match, an archive that is not a
SigmaHQ rule set or a bundle that is not ATT&CK Enterprise leaves the installed copy as it was.
Exit status: 0 when everything asked for was installed, 1 when something was refused.`)
    .action(async (opts: UpdateOptions) => {
      process.exitCode = await update(opts);
    });
}

async function update(opts: UpdateOptions): Promise<number> {
  const home = spoorHome();
  mkdirSync(home, { recursive: true });
  let failed = false;
  const step = async (name: string, run: (staging: string) => Promise<string>) => {
    const staging = mkdtempSync(join(home, `.staging-${name}-`));
    try {
      const said = await run(staging);
      install(join(staging, name), join(home, name));
      process.stderr.write(`spoor update: ${name}: ${said}\n`);
    } catch (e) {
      failed = true;
      process.stderr.write(`spoor update: ${name}: not updated, the installed copy is unchanged: ${(e as Error).message}\n`);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  };
  const wanted = (what: NonNullable<UpdateOptions['only']>) => opts.only === undefined || opts.only === what;
  if (wanted('sigma')) {
    await step('sigma', async (staging) => {
      const zip = await download(opts.sigmaUrl, { maxBytes: 256 * 1024 * 1024, sha256: opts.sigmaSha256 });
      const rules = extractSigmaArchive(zip, join(staging, 'sigma'));
      const folders = existsSync(join(staging, 'sigma')) ? readdirSync(join(staging, 'sigma')).filter((d) => d.startsWith('rules')) : [];
      if (rules < 100 || folders.length === 0) throw new Error(`the archive holds ${rules} rule files: not a SigmaHQ rule set`);
      return `${rules} rule files (${folders.sort().join(', ')}) in ${join(home, 'sigma')}`;
    });
  }
  if (wanted('attack')) {
    await step('attack', async (staging) => {
      const body = await download(opts.attackUrl, { maxBytes: 512 * 1024 * 1024, sha256: opts.attackSha256 });
      const found = checkAttackBundle(body.toString('utf8'));
      mkdirSync(join(staging, 'attack'));
      writeFileSync(join(staging, 'attack', 'enterprise-attack.json'), body);
      return `ATT&CK ${found.version || '(version unknown)'}: ${found.techniques} techniques, ${found.groups} groups in ${join(home, 'attack')}`;
    });
  }
  if (wanted('cti')) {
    await step('cti', async (staging) => {
      mkdirSync(join(staging, 'cti'));
      const said: string[] = [];
      for (const file of GALAXY_FILES) {
        const body = await download(new URL(file, opts.galaxyUrl).toString(), { maxBytes: 64 * 1024 * 1024 });
        let clusters;
        try {
          clusters = clustersFromGalaxy(JSON.parse(body.toString('utf8')));
        } catch (e) {
          throw new Error(`${file}: ${(e as Error).message}`);
        }
        if (clusters.length < 20) throw new Error(`${file}: ${clusters.length} clusters: not the MISP galaxy's file`);
        writeFileSync(join(staging, 'cti', file), body);
        said.push(`${clusters.length} ${file.replace('.json', '')} clusters`);
      }
      return `${said.join(', ')} in ${join(home, 'cti')}`;
    });
  }
  if (wanted('exchange')) {
    await step('exchange', async (staging) => {
      const body = await download(opts.exchangeUrl, { maxBytes: 8 * 1024 * 1024 });
      const rows = parseBuildDictionary(body.toString('utf8'));
      const csv = buildTableCsv(rows, parseBuildRows(`${BUNDLED_EXCHANGE_DATA}/builds.csv`));
      mkdirSync(join(staging, 'exchange'));
      writeFileSync(join(staging, 'exchange', 'builds.csv'), csv);
      return `${rows.length} Exchange builds in ${join(home, 'exchange')}`;
    });
  }
  return failed ? ExitCode.Unreadable : ExitCode.Ok;
}

/** Puts a checked copy in place: the old one moves aside first and goes only once the new one is in. */
function install(from: string, to: string): void {
  const old = `${to}.old-${process.pid}`;
  if (existsSync(to)) renameSync(to, old);
  try {
    renameSync(from, to);
  } catch (e) {
    if (existsSync(old)) renameSync(old, to);
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}
