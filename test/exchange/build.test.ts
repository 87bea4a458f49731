import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { assessBuild, parseBuild } from '../../src/exchange/build.js';
import { loadExchangeTables } from '../../src/exchange/tables.js';
import { SPOOR } from '../helpers/paths.js';

const tables = loadExchangeTables();

/**
 * Builds with answers written by hand from Microsoft's published lists ("Exchange Server build numbers
 * and release dates", and the KBs of the March 2021 SU (KB5000871, ProxyLogon), the April 2021 SU
 * (KB5001779, ProxyShell) and the November 2022 SU (KB5019758, ProxyNotShell)): product, CU, update,
 * and whether each of those three fixes is missing. `logon` ProxyLogon (CVE-2021-26855), `shell` ProxyShell
 * (CVE-2021-34473), `notshell` ProxyNotShell (CVE-2022-41082).
 */
const KNOWN: [build: string, product: string, cu: string, update: string, logon: boolean, shell: boolean, notshell: boolean][] = [
  // Exchange 2013
  ['15.0.516.32', 'Exchange2013', 'RTM', '', true, true, true],
  ['15.0.1347.2', 'Exchange2013', 'CU18', '', true, true, true],
  ['15.0.1395.4', 'Exchange2013', 'CU21', '', true, true, true],
  ['15.0.1473.3', 'Exchange2013', 'CU22', 'Feb19SU', true, true, true],
  ['15.0.1497.2', 'Exchange2013', 'CU23', '', true, true, true],
  ['15.0.1497.12', 'Exchange2013', 'CU23', 'Mar21SU', false, true, true],
  ['15.0.1497.15', 'Exchange2013', 'CU23', 'Apr21SU', false, false, true],
  ['15.0.1497.18', 'Exchange2013', 'CU23', 'May21SU', false, false, true],
  ['15.0.1497.23', 'Exchange2013', 'CU23', 'Jul21SU', false, false, true],
  ['15.0.1497.44', 'Exchange2013', 'CU23', 'Nov22SU', false, false, false],
  // Exchange 2016
  ['15.1.225.42', 'Exchange2016', 'RTM', '', true, true, true],
  ['15.1.1979.3', 'Exchange2016', 'CU16', '', true, true, true],
  ['15.1.1979.8', 'Exchange2016', 'CU16', 'Mar21SU', false, true, true],
  ['15.1.2044.4', 'Exchange2016', 'CU17', '', true, true, true],
  ['15.1.2106.2', 'Exchange2016', 'CU18', '', true, true, true],
  ['15.1.2106.13', 'Exchange2016', 'CU18', 'Mar21SU', false, true, true],
  ['15.1.2176.2', 'Exchange2016', 'CU19', '', true, true, true],
  ['15.1.2176.9', 'Exchange2016', 'CU19', 'Mar21SU', false, true, true],
  ['15.1.2176.12', 'Exchange2016', 'CU19', 'Apr21SU', false, false, true],
  ['15.1.2242.4', 'Exchange2016', 'CU20', '', false, true, true],
  ['15.1.2242.8', 'Exchange2016', 'CU20', 'Apr21SU', false, false, true],
  ['15.1.2308.8', 'Exchange2016', 'CU21', '', false, false, true],
  ['15.1.2375.7', 'Exchange2016', 'CU22', '', false, false, true],
  ['15.1.2375.17', 'Exchange2016', 'CU22', 'Nov21SU', false, false, true],
  ['15.1.2375.37', 'Exchange2016', 'CU22', 'Nov22SU', false, false, false],
  ['15.1.2507.6', 'Exchange2016', 'CU23', '', false, false, true],
  ['15.1.2507.16', 'Exchange2016', 'CU23', 'Nov22SU', false, false, false],
  ['15.1.2507.37', 'Exchange2016', 'CU23', 'Mar24SU', false, false, false],
  // Exchange 2019 (Microsoft shipped the March 2021 SU for RTM too)
  ['15.2.221.12', 'Exchange2019', 'RTM', '', true, true, true],
  ['15.2.221.18', 'Exchange2019', 'RTM', 'Mar21SU', false, true, true],
  ['15.2.330.5', 'Exchange2019', 'CU1', 'Feb19SU', true, true, true],
  ['15.2.330.11', 'Exchange2019', 'CU1', 'Mar21SU', false, true, true],
  ['15.2.721.2', 'Exchange2019', 'CU7', '', true, true, true],
  ['15.2.721.13', 'Exchange2019', 'CU7', 'Mar21SU', false, true, true],
  ['15.2.792.3', 'Exchange2019', 'CU8', '', true, true, true],
  ['15.2.792.10', 'Exchange2019', 'CU8', 'Mar21SU', false, true, true],
  ['15.2.792.13', 'Exchange2019', 'CU8', 'Apr21SU', false, false, true],
  ['15.2.858.5', 'Exchange2019', 'CU9', '', false, true, true],
  ['15.2.858.10', 'Exchange2019', 'CU9', 'Apr21SU', false, false, true],
  ['15.2.922.7', 'Exchange2019', 'CU10', '', false, false, true],
  ['15.2.986.5', 'Exchange2019', 'CU11', '', false, false, true],
  ['15.2.986.14', 'Exchange2019', 'CU11', 'Nov21SU', false, false, true],
  ['15.2.986.36', 'Exchange2019', 'CU11', 'Nov22SU', false, false, false],
  ['15.2.1118.7', 'Exchange2019', 'CU12', '', false, false, true],
  ['15.2.1118.20', 'Exchange2019', 'CU12', 'Nov22SU', false, false, false],
  ['15.2.1258.12', 'Exchange2019', 'CU13', '', false, false, false],
  ['15.2.1544.4', 'Exchange2019', 'CU14', '', false, false, false],
  ['15.2.1544.9', 'Exchange2019', 'CU14', 'Mar24SU', false, false, false],
  ['15.2.1748.10', 'Exchange2019', 'CU15', '', false, false, false],
  // Subscription Edition
  ['15.2.2562.17', 'ExchangeSE', 'RTM', '', false, false, false],
];

test(`exchange build: ${KNOWN.length} builds named and judged as Microsoft's lists say`, () => {
  for (const [build, product, cu, update, logon, shell, notshell] of KNOWN) {
    const a = assessBuild(build, tables);
    assert.ok(a, build);
    assert.equal(a.product, product, build);
    assert.equal(a.cu, cu, build);
    assert.equal(a.update ?? '', update, build);
    assert.equal(a.known, true, build);
    const open = new Set(a.cves.map((c) => c.cve));
    assert.equal(open.has('CVE-2021-26855'), logon, `${build} ProxyLogon`);
    assert.equal(open.has('CVE-2021-34473'), shell, `${build} ProxyShell`);
    assert.equal(open.has('CVE-2022-41082'), notshell, `${build} ProxyNotShell`);
    // The four ProxyLogon CVEs were fixed together.
    for (const cve of ['CVE-2021-26857', 'CVE-2021-26858', 'CVE-2021-27065']) assert.equal(open.has(cve), logon, `${build} ${cve}`);
  }
});

test('exchange build: every build of the table is named back as its own product, CU and update', () => {
  for (const row of tables.builds) {
    const a = assessBuild(row.build, tables)!;
    assert.equal(a.product, row.product, row.build);
    assert.equal(a.cu, row.cu, row.build);
    // One build can be both a CU and the month's update (2013 CU22 is Feb19SU): the update is named.
    if (row.update) assert.equal(a.update, tables.builds.filter((r) => r.build === row.build).find((r) => r.update)!.update, row.build);
  }
});

test('exchange build: the forms builds are written in, builds between updates, Exchange 2010, nonsense', () => {
  assert.deepEqual(parseBuild('15.02.1544.009'), [15, 2, 1544, 9]);
  assert.deepEqual(parseBuild('Version 15.1 (Build 2375.17)'), [15, 1, 2375, 17]);
  assert.equal(parseBuild('15.2'), undefined);
  assert.equal(parseBuild('16.0.1.1'), undefined);
  // A private or interim build between two updates: judged by its number, marked as not in the table.
  const between = assessBuild('15.1.2176.10', tables)!;
  assert.equal(between.known, false);
  assert.equal(between.cu, 'CU19');
  assert.ok(between.cves.some((c) => c.cve === 'CVE-2021-34473'));
  assert.ok(!between.cves.some((c) => c.cve === 'CVE-2021-26855'));
  const e2010 = assessBuild('14.3.513.0', tables)!;
  assert.equal(e2010.product, 'Exchange2010');
  assert.equal(e2010.assessed, false);
  // Exchange 2016's preview shares RTM's numbers: judged as RTM, never patched.
  const preview = assessBuild('15.1.225.16', tables)!;
  assert.equal(preview.known, false);
  assert.equal(preview.cu, 'RTM');
  assert.ok(preview.cves.some((c) => c.cve === 'CVE-2021-26855'));
});

test('spoor exchange build --format json: keys, and exit status 3 when exposed, 0 when not, 2 for nonsense', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, 'exchange', 'build', ...args], { encoding: 'utf8' });
  const exposed = run('15.1.2176.2', '--format', 'json');
  assert.equal(exposed.status, 3, exposed.stderr);
  const j = JSON.parse(exposed.stdout);
  assert.equal(j.build, '15.1.2176.2');
  assert.equal(j.product, 'Exchange2016');
  assert.equal(j.known, true);
  assert.ok(j.cves.some((c: { cve: string; exploited: boolean }) => c.cve === 'CVE-2021-26855' && c.exploited));
  const patched = run('15.2.1544.9');
  assert.equal(patched.status, 0, patched.stderr);
  assert.match(patched.stdout, /Exchange Server 2019 CU14 Mar24SU/);
  assert.equal(run('not-a-build').status, 2);
});
