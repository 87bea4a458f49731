import { Command, Option } from 'commander';
import { assessBuild, type BuildAssessment } from '../../exchange/build.js';
import { loadExchangeTables } from '../../exchange/tables.js';
import { ExitCode } from '../options.js';

/** Exit status of `exchange build` when a build is open to a known-exploited CVE (0 and 2 keep their usual senses). */
export const EXPOSED = 3;

export function exchangeBuildCommand(): Command {
  return new Command('build')
    .description('name the product, CU and update of Exchange build numbers and the known-exploited CVEs they are open to')
    .argument('<builds...>', 'build numbers: 15.2.1544.9, 15.02.1544.009 or "Version 15.2 (Build 1544.9)"')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('--all', 'list every open CVE of the table, not only the known-exploited ones', false)
    .addHelpText('after', `
Builds and updates are Microsoft's (Exchange 2013, 2016, 2019 and Subscription Edition, every CU and
security or hotfix update), from the table Spoor ships or the newer one \`spoor update --only exchange\`
installs. A build is open to a CVE when the update that fixes it for its product is newer than the
build on the same CU, or when its CU is older than the CUs that received the fix.
Exit status: 0 when no build is open to a known-exploited CVE, 3 when one is, 2 when a build cannot be read.`)
    .action((builds: string[], opts: { format: 'table' | 'json'; all: boolean }) => {
      const tables = loadExchangeTables();
      const results: BuildAssessment[] = [];
      for (const text of builds) {
        const a = assessBuild(text, tables);
        if (!a) {
          process.stderr.write(`spoor exchange build: "${text}" is not an Exchange build number (15.x.y.z for 2013 and later, 14.x.y.z for 2010)\n`);
          process.exitCode = ExitCode.Usage;
          return;
        }
        results.push(a);
      }
      if (opts.format === 'json') process.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`);
      else process.stdout.write(results.map((a) => describeBuild(a, opts.all)).join('\n'));
      process.exitCode = results.some((a) => a.cves.length > 0) ? EXPOSED : ExitCode.Ok;
    });
}

/** A build's assessment as lines for people. */
export function describeBuild(a: BuildAssessment, all = false): string {
  const name = [a.productName, a.cu, a.update].filter(Boolean).join(' ');
  const lines = [`${a.build}: ${name}${a.known ? '' : ' (build not in the table)'}`];
  if (a.note) lines.push(`  note: ${a.note}`);
  if (a.assessed) {
    if (a.cves.length === 0) lines.push('  open to no known-exploited CVE');
    else {
      lines.push(`  open to ${a.cves.length} known-exploited CVE${a.cves.length > 1 ? 's' : ''}:`);
      for (const c of a.cves) lines.push(`    ${c.cve}  fixed by ${c.fixedBy}  ${c.name ?? ''}`.trimEnd());
    }
    const others = a.openCves.filter((c) => !c.exploited);
    if (others.length) {
      if (all) {
        lines.push(`  open to ${others.length} other CVE${others.length > 1 ? 's' : ''} fixed by later updates:`);
        for (const c of others) lines.push(`    ${c.cve}  fixed by ${c.fixedBy}`);
      } else lines.push(`  and to ${others.length} other CVE${others.length > 1 ? 's' : ''} fixed by later updates (--all lists them)`);
    }
  }
  return `${lines.join('\n')}\n`;
}
