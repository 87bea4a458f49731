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
// CSS-Exchange's dictionary starts at CU1: the RTM builds (and the March 2021 SU Microsoft shipped for
// Exchange 2019 RTM) come from Microsoft's "build numbers and release dates" list.
const RTM_SOURCE = "xasz/exchange-version-table @ 3f829241bf2f (Microsoft's Exchange Server build numbers and release dates)";
const releases = (JSON.parse(readFileSync(join(shared, 'release-dates.json'), 'utf8')) as { Releases: { ProductName: string; BuildNumberShort: string }[] }).Releases;
const rtm: Record<string, string>[] = [];
for (const r of releases) {
  const m = /^Exchange Server (2013|2016|2019) RTM(?: (\w+SU))?$/.exec(r.ProductName.replace(/&nbsp;/g, '').trim());
  if (m) rtm.push({ product: `Exchange${m[1]}`, cu: 'RTM', update: m[2] ?? '', build: r.BuildNumberShort, source: RTM_SOURCE });
}
rtm.sort((a, b) => a.product.localeCompare(b.product) || a.build.localeCompare(b.build, undefined, { numeric: true }));
const seen = new Set<string>();
const buildLines = ['product,cu,update,build,source'];
for (const b of [...rtm, ...builds]) {
  const key = `${b.product},${b.cu},${b.update},${b.build}`;
  if (seen.has(key)) continue;
  seen.add(key);
  buildLines.push(csvLine([b.product!, b.cu!, b.update!, b.build!, b.source ?? BUILDS_SOURCE]));
}
writeFileSync(join(out, 'builds.csv'), `${buildLines.join('\n')}\n`);

const cveLines = ['update,cve,products,source'];
for (const c of read('update-cves.csv')) {
  const proxyShell = c.cve === 'CVE-2021-34473' || c.cve === 'CVE-2021-34523';
  cveLines.push(csvLine([c.update!, c.cve!, c.products!, proxyShell ? PROXYSHELL_SOURCE : CVES_SOURCE]));
}
writeFileSync(join(out, 'update-cves.csv'), `${cveLines.join('\n')}\n`);
copyFileSync(join(shared, 'LICENSE-CSS-Exchange'), join(out, 'LICENSE-CSS-Exchange'));
copyFileSync(join(shared, 'LICENSE-release-dates'), join(out, 'LICENSE-release-dates'));
process.stdout.write(`${buildLines.length - 1} builds, ${cveLines.length - 1} update/CVE rows written to ${out}\n`);
