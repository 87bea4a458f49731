/**
 * Makes Spoor's Exchange tables (data/exchange/) from the facts in ../shared/data/exchange: every
 * build by product, CU and update, and the CVEs each update fixes, each row with its source. Run it
 * again when those facts change; `spoor update --only exchange` refreshes the build table between
 * releases. Which CVEs are known to be exploited is Spoor's own list (data/exchange/exploited.csv).
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { csvLine } from '../src/exchange/tables.js';

const shared = process.argv[2] ?? new URL('../../../shared/data/exchange', import.meta.url).pathname;
const out = new URL('../../data/exchange/', import.meta.url).pathname;
const BUILDS_SOURCE = 'microsoft/CSS-Exchange Shared/Get-ExchangeBuildVersionInformation.ps1 @ f88378b1e7a2';
const CVES_SOURCE = 'microsoft/CSS-Exchange Diagnostics/HealthChecker/Analyzer/Security/Invoke-AnalyzerSecurityCveCheck.ps1';
const PROXYSHELL_SOURCE = 'Microsoft Security Update Guide, CVE-2021-34473/CVE-2021-34523 (published July 2021, fixed by KB5001779, April 2021)';

const read = (name: string) => parse(readFileSync(join(shared, name), 'utf8'), { columns: true, skip_empty_lines: true }) as Record<string, string>[];

const builds = read('builds.csv');
const seen = new Set<string>();
const buildLines = ['product,cu,update,build,source'];
for (const b of builds) {
  const key = `${b.product},${b.cu},${b.update},${b.build}`;
  if (seen.has(key)) continue;
  seen.add(key);
  buildLines.push(csvLine([b.product!, b.cu!, b.update!, b.build!, BUILDS_SOURCE]));
}
writeFileSync(join(out, 'builds.csv'), `${buildLines.join('\n')}\n`);

const cveLines = ['update,cve,products,source'];
for (const c of read('update-cves.csv')) {
  const proxyShell = c.cve === 'CVE-2021-34473' || c.cve === 'CVE-2021-34523';
  cveLines.push(csvLine([c.update!, c.cve!, c.products!, proxyShell ? PROXYSHELL_SOURCE : CVES_SOURCE]));
}
writeFileSync(join(out, 'update-cves.csv'), `${cveLines.join('\n')}\n`);
copyFileSync(join(shared, 'LICENSE-CSS-Exchange'), join(out, 'LICENSE-CSS-Exchange'));
process.stdout.write(`${buildLines.length - 1} builds, ${cveLines.length - 1} update/CVE rows written to ${out}\n`);
