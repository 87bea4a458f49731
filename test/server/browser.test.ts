import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { ARTEFACTS, launchChromium, pageErrors } from '../helpers/browser.js';
import { DATA, SPOOR } from '../helpers/paths.js';
import { type Served, serve } from '../helpers/serve.js';
import { writeLargeCase } from '../helpers/large-case.js';
import { zipFolder } from '../helpers/zip-folder.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-ui-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Launches Chromium for a test of the server `s`; closes both when the test ends, however it ends. */
async function withBrowser(s: Served, body: (browser: Browser) => Promise<void>): Promise<void> {
  const browser = await launchChromium();
  try {
    await body(browser);
  } finally {
    await browser.close();
    await s.stop();
  }
}

/** A simulated Exchange server with ProxyLogon in it, generated into `tmp/name/exch01` (its evidence root `tmp/name`). */
function simulatedServer(name: string, size: string, seed: number): { evidence: string; server: string } {
  const evidence = join(tmp, name);
  const server = join(evidence, 'exch01');
  mkdirSync(evidence);
  assert.equal(spawnSync(process.execPath, [SPOOR, 'demo', 'generate', server, '--size', size, '--intrusion', 'proxylogon', '--seed', String(seed)]).status, 0);
  return { evidence, server };
}

/** One Application event as a JSON line in evtx_dump's shape, with `system` added to its System fields. */
function jsonEvent(system: Record<string, unknown>): string {
  return `${JSON.stringify({ Event: { System: { Channel: 'Application', EventID: 1000, ...system, TimeCreated: { '#attributes': { SystemTime: '2021-03-02T10:00:00Z' } } } } })}\n`;
}

/** Has Chromium send the page's requests at `bytesPerSecond` (-1: at full speed again, through the session returned). */
async function throttleUploads(page: Page, bytesPerSecond: number): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
  return cdp;
}

/** Creates a case from the page's form (from the case list, going back to it first) and waits until it is open. */
async function newCase(page: Page, name: string, options: { kind?: 'hunt' | 'exchange'; path?: string } = {}): Promise<void> {
  if (await page.isVisible('#back')) await page.click('#back');
  await page.waitForSelector('#new-case', { state: 'visible' });
  await page.fill('#case-name', name);
  if (options.kind) await page.selectOption('#case-kind', options.kind);
  if (options.path) await page.fill('#case-path', options.path);
  await page.click('#create-case');
  await page.waitForSelector('#case-view:not([hidden])');
  await page.waitForFunction((n) => document.getElementById('case-title')!.textContent === n, name);
}

test('web UI in Chromium: create a case, hunt the simulated server with live progress, see detections, open the attribution, download the report', async () => {
  const evidence = join(tmp, 'evidence');
  mkdirSync(evidence);
  const server = join(evidence, 'exch01');
  assert.equal(spawnSync(process.execPath, [SPOOR, 'demo', 'generate', server, '--size', '4MB', '--intrusion', 'proxylogon', '--seed', '11']).status, 0);
  const s = await serve(join(tmp, 'home'), '--evidence-root', evidence, '--attack', `${DATA}/attack/enterprise-attack.json`, '--ioc', `${DATA}/ioc/chirp/AA21062A.yaml`);
  await withBrowser(s, async (browser) => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    const page = await context.newPage();
    const errors = pageErrors(page);
    await page.goto(s.url);
    // The token left the address bar (and history) for this origin's sessionStorage.
    assert.equal(new URL(page.url()).hash, '');
    assert.ok(!page.url().includes(s.token));

    await newCase(page, 'EXCH01 ProxyLogon', { kind: 'exchange', path: server });

    await page.fill('#sector', 'higher education');
    await page.click('#run-hunt');
    // Live progress: the page shows the hunt running before it shows it done.
    await page.waitForSelector('#case-view[data-status=running]', { timeout: 10_000 });
    await page.screenshot({ path: join(ARTEFACTS, 'ui-1-hunting.png') });
    await page.waitForSelector('#case-view[data-status=done]', { timeout: 120_000 });
    await page.waitForSelector('#timeline-chart');
    // What the hunt said about its rules and input is on the page, not only in a server log.
    assert.match(await page.locator('#hunt-notes').textContent() ?? '', /run spoor update for SigmaHQ's/);
    // The rule set and IoC feeds the hunt ran with, and how many rules it loaded.
    const ruleLine = await page.locator('#case-rules').innerText();
    assert.match(ruleLine, /^Rules: Spoor's own rules .*\(\d+ rules and \d+ correlations loaded.*\) · IoC feeds: .*AA21062A\.yaml$/);
    // Breakdowns: ten rules first, all of them on request; indicators of the feed seen, each opening the detections that hold it.
    const caseId = (await s.get<{ id: number }[]>('/api/cases'))[0]!.id;
    const overview = await s.get<{ summary: { rules: unknown[] }; indicators: { value: string; count: number }[] }>(`/api/cases/${caseId}/summary`);
    assert.equal(await page.locator('#top-rules tr').count(), Math.min(10, overview.summary.rules.length));
    if (overview.summary.rules.length > 10) await page.click('#top-rules-all');
    assert.equal(await page.locator('#top-rules tr').count(), overview.summary.rules.length);
    assert.ok(await page.locator('#top-rules-all').isHidden());
    // One host under one name: the short name the IIS logs give and the full one of the event logs are merged.
    const hosts = await page.locator('#top-hosts a').allInnerTexts();
    assert.ok(hosts.some((h) => /^EXCH01\./i.test(h)), hosts.join(', '));
    assert.ok(!hosts.some((h) => hosts.some((o) => o.toLowerCase().startsWith(`${h.toLowerCase()}.`))), hosts.join(', '));
    assert.ok(overview.indicators.length > 0, 'the feed\'s indicators were seen');
    assert.equal(await page.locator('#top-indicators tr').count(), Math.min(10, overview.indicators.length));
    const indicator = overview.indicators[0]!;
    await page.locator('#top-indicators a').first().click();
    await page.waitForFunction((v) => (document.getElementById('detections-filter') as HTMLInputElement).value.includes(v.split(/\W/)[0]!) && document.querySelectorAll('#detections-body tr.row').length > 0, indicator.value);
    const holding = await page.locator('#detections-body tr.detail pre').allTextContents();
    assert.ok(holding.length > 0 && holding.every((t) => t.toLowerCase().includes(indicator.value.toLowerCase().replace(/\\/g, '\\\\'))), `${indicator.value}: ${holding.length} rows`);
    await page.fill('#detections-filter', '');
    await page.waitForFunction(() => {
      const box = document.querySelector('#tab-detections')!;
      return box.getAttribute('data-loaded') === box.getAttribute('data-loading') && !/[ &]q=[^&]/.test(box.getAttribute('data-loaded') ?? '');
    });
    await page.click('#tabbtn-overview');
    await page.screenshot({ path: join(ARTEFACTS, 'ui-2-timeline.png'), fullPage: true });

    await page.click('#tabs button[data-tab=detections]');
    await page.waitForSelector('#detections-body tr.row');
    const count = await page.locator('#detections-count').innerText();
    const total = Number(/of (\d+) detections/.exec(count)?.[1]);
    assert.ok(total > 10, count);
    assert.ok((await page.locator('#detections-body').innerText()).includes('ProxyLogon'));
    await page.selectOption('#detections-level', 'critical');
    await page.waitForFunction((t) => !document.getElementById('detections-count')!.textContent!.endsWith(`of ${t} detections`), total);
    const levels = await page.locator('#detections-body tr.row td:nth-child(2)').allInnerTexts();
    assert.ok(levels.length > 0 && levels.every((l) => l === 'critical'), levels.join(','));
    // The search reaches into events: a command the attacker ran is found, though no rule's title holds it.
    await page.selectOption('#detections-level', '');
    const cases = await s.get<{ id: number }[]>('/api/cases');
    const api = await s.get<{ total: number }>(`/api/cases/${cases[0]!.id}/detections?q=CommandLine%3Awhoami`);
    assert.ok(api.total > 0 && api.total < total, `${api.total} of ${total}`);
    await page.fill('#detections-filter', 'CommandLine:whoami');
    await page.waitForFunction((n) => document.getElementById('detections-count')!.textContent === `1–${n} of ${n} detections` && document.querySelectorAll('#detections-body tr.row').length === n, api.total);
    const whoami = await page.locator('#detections-body tr.detail pre').allTextContents();
    assert.ok(whoami.length === api.total && whoami.every((t) => /whoami/i.test(t)), `${whoami.length} rows`);
    await page.screenshot({ path: join(ARTEFACTS, 'ui-3b-search.png'), fullPage: true });
    await page.fill('#detections-filter', '');
    await page.selectOption('#detections-level', 'critical');
    await page.waitForFunction(() => document.querySelectorAll('#detections-body tr.row').length > 0);
    await page.locator('#detections-body tr.row').first().click();
    assert.match(await page.locator('#detections-body tr.detail:not([hidden]) pre').innerText(), /"matched"/);
    await page.screenshot({ path: join(ARTEFACTS, 'ui-3-detections.png'), fullPage: true });

    await page.click('#tabs button[data-tab=attribution]');
    await page.waitForSelector('#tab-attribution table.hypotheses');
    const leader = await page.locator('#tab-attribution table.hypotheses tbody tr').first().locator('td').nth(2).innerText();
    assert.equal(leader, 'HAFNIUM (Silk Typhoon)');
    assert.match(await page.locator('#tab-attribution p.headline').innerText(), /^Leading hypothesis: HAFNIUM \(Silk Typhoon\), G0125/);
    assert.match(await page.locator('#tab-attribution').innerText(), /Against .* favours HAFNIUM/);
    await page.screenshot({ path: join(ARTEFACTS, 'ui-4-attribution.png'), fullPage: true });

    await page.click('#tabs button[data-tab=downloads]');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-html')]);
    const saved = join(tmp, 'report.html');
    await download.saveAs(saved);
    const html = readFileSync(saved, 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.ok(html.includes('"name":"HAFNIUM"'));
    assert.deepEqual(errors, []);

    // Another local listener (another port of 127.0.0.1) loaded in the same browser learns nothing:
    // no cookie is sent to it, and the token is not in its origin's storage.
    const seen: string[] = [];
    const other = createServer((req, res) => {
      seen.push(JSON.stringify(req.headers));
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>other</title>');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const port = (other.address() as AddressInfo).port;
      const stranger = await context.newPage();
      await stranger.goto(`http://127.0.0.1:${port}/`);
      const stored = await stranger.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }) + document.cookie);
      assert.ok(seen.length > 0);
      assert.ok(!seen.some((h) => h.includes(s.token)) && !stored.includes(s.token), `${seen.join('\n')} ${stored}`);
      assert.ok(!(await context.cookies()).some((c) => c.value.includes(s.token)));
    } finally {
      other.close();
    }
  });
});

test('web UI on a case of 100,000+ detections: top rules and the ATT&CK matrix open their detections, columns sort, search, drill-down to a detection\'s neighbours and values, CSV export, keyboard tabs, rename and delete', { timeout: 600_000 }, async () => {
  const { evidence, rules } = writeLargeCase(join(tmp, 'large'), 100_000);
  const s = await serve(join(tmp, 'large-home'), '--evidence-root', join(tmp, 'large', 'evidence'), '--rules', rules, '--rules', `${DATA}/sigma/rules`);
  const api = (path: string) => s.get<Record<string, unknown>>(path);
  const timings: string[] = [];
  await withBrowser(s, async (browser) => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    const page = await context.newPage();
    const errors = pageErrors(page);
    let t = Date.now();
    await page.goto(s.url);
    await page.waitForSelector('#new-case');
    timings.push(`page ${Date.now() - t} ms`);
    await newCase(page, 'large', { path: evidence });
    await page.click('#run-hunt');
    await page.waitForSelector('#case-view[data-status=done]', { timeout: 540_000 });
    const id = ((await api('/api/cases')) as unknown as { id: number }[])[0]!.id;
    const total = (await api(`/api/cases/${id}`)).detections as number;
    assert.ok(total >= 100_000, `${total} detections`);
    await page.waitForSelector('#top-rules a');
    await page.screenshot({ path: join(ARTEFACTS, 'ui-large-1-overview.png'), fullPage: true });
    // The detections view has shown the answer to what it last asked, and that asked for `part` (URL-encoded).
    const settled = (part: Record<string, string>) =>
      page
        .waitForFunction((p) => {
          const box = document.querySelector('#tab-detections')!;
          return box.getAttribute('data-loaded') === box.getAttribute('data-loading') && (box.getAttribute('data-loaded') ?? '').includes(p);
        }, new URLSearchParams(part).toString(), { timeout: 30_000 })
        .catch(async (e: Error) => {
          throw new Error(`${e.message}: waiting for ${new URLSearchParams(part)}, the view asked ${await page.getAttribute('#tab-detections', 'data-loading')} and showed ${await page.getAttribute('#tab-detections', 'data-loaded')}`);
        });
    const shows = (n: number) => page.waitForFunction((x) => new RegExp(`of ${x} detections$`).test(document.getElementById('detections-count')!.textContent!), n, { timeout: 30_000 });

    // Top rules: a rule other than the catch-all opens exactly its detections.
    const summary = (await api(`/api/cases/${id}/summary`)) as { summary: { rules: { title: string; count: number }[] } };
    const rule = summary.summary.rules.filter((r) => r.title !== 'Every generated event').sort((a, b) => b.count - a.count)[0]!;
    t = Date.now();
    await page.locator('#top-rules a', { hasText: rule.title }).first().click();
    await shows(rule.count);
    timings.push(`top rule opened ${Date.now() - t} ms`);
    assert.equal(await page.inputValue('#detections-filter'), `rule:"${rule.title}"`);
    assert.deepEqual([...new Set(await page.locator('#detections-body tr.row td:nth-child(3)').allInnerTexts())], [rule.title]);

    // The ATT&CK matrix: a technique seen opens detections tagged with it.
    await page.click('#tabbtn-overview');
    const cell = page.locator('.matrix .cell.seen').first();
    const technique = (await cell.getAttribute('data-technique'))!;
    await cell.click();
    await settled({ q: `technique:${technique}` });
    const tagged = await page.locator('#detections-body tr.row td:nth-child(6)').allInnerTexts();
    assert.ok(tagged.length > 0 && tagged.every((x) => x.split(' ').some((id) => id === technique || id.startsWith(`${technique}.`))), `${technique}: ${tagged.slice(0, 3)}`);
    // A sub-technique seen is listed under its technique and opens the detections tagged with it, as many as it says.
    await page.click('#tabbtn-overview');
    const sub = page.locator('.matrix .cell.sub.seen').first();
    const subId = (await sub.getAttribute('data-technique'))!;
    assert.match(subId, /^T\d{4}\.\d{3}$/);
    const said = Number(/: (\d+) detection/.exec((await sub.getAttribute('title'))!)![1]);
    await sub.click();
    await settled({ q: `technique:${subId}` });
    await shows(said);
    const subTagged = await page.locator('#detections-body tr.row td:nth-child(6)').allInnerTexts();
    assert.ok(subTagged.length > 0 && subTagged.every((x) => x.split(' ').includes(subId)), `${subId}: ${subTagged.slice(0, 3)}`);

    // A bar of the timeline opens the detections of its minute.
    await page.click('#tabbtn-overview');
    const timeline = (await api(`/api/cases/${id}/summary`)).timeline as { unit: string; labels: string[]; series: { counts: number[] }[] };
    const totals = timeline.labels.map((_, i) => timeline.series.reduce((n, x) => n + x.counts[i]!, 0));
    const bar = totals.indexOf(Math.max(...totals));
    const at = await page.evaluate((i) => {
      const canvas = document.getElementById('timeline-chart') as HTMLCanvasElement;
      const chart = (window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { getDatasetMeta(n: number): { data: { x: number; y: number; base: number }[] }; data: { datasets: unknown[] } } } }).Chart.getChart(canvas);
      // The tallest segment of the bar, clicked in its middle.
      const segments = chart.data.datasets.map((_, n) => chart.getDatasetMeta(n).data[i]!).filter((p) => p && Number.isFinite(p.y));
      const p = segments.sort((a, b) => Math.abs(b.base - b.y) - Math.abs(a.base - a.y))[0]!;
      const r = canvas.getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + (p.y + p.base) / 2 };
    }, bar);
    await page.mouse.click(at.x, at.y);
    const bucket = Date.parse(`${timeline.labels[bar]!.replace(' ', 'T')}Z`);
    const window = { from: new Date(bucket).toISOString(), to: new Date(bucket + 59_999).toISOString() };
    await settled(window);
    const inBar = (await api(`/api/cases/${id}/detections?from=${window.from}&to=${window.to}`)).total as number;
    assert.equal(timeline.unit, 'minute');
    assert.equal(inBar, timeline.series.reduce((n, x) => n + x.counts[bar]!, 0));
    await shows(inBar);

    // Sorting by level: the most severe first, then (again) the least.
    for (const field of ['#detections-from', '#detections-to']) {
      await page.fill(field, '');
      await page.locator(field).dispatchEvent('change');
    }
    await shows(total);
    const levelHead = page.locator('th[data-sort=level]');
    await levelHead.click();
    await page.waitForFunction(() => document.querySelector('th[data-sort=level]')!.getAttribute('aria-sort') === 'ascending');
    await page.waitForFunction(() => document.querySelector('#tab-detections')!.getAttribute('data-loaded')?.includes('sort=level'));
    const ranks = ['critical', 'high', 'medium', 'low', 'informational'];
    const top = await page.locator('#detections-body tr.row td:nth-child(2)').first().innerText();
    const levels = (await api(`/api/cases/${id}/summary`)).summary as { byLevel: Record<string, number> };
    assert.equal(top, ranks.find((l) => levels.byLevel[l])!);
    await levelHead.click();
    await page.waitForFunction(() => document.querySelector('th[data-sort=level]')!.getAttribute('aria-sort') === 'descending' && document.querySelector('#tab-detections')!.getAttribute('data-loaded')?.includes('desc=1'));
    assert.equal(await page.locator('#detections-body tr.row td:nth-child(2)').first().innerText(), [...ranks].reverse().find((l) => levels.byLevel[l])!);
    await page.screenshot({ path: join(ARTEFACTS, 'ui-large-2-sorted.png'), fullPage: true });

    // Search over events, timed from typing to the rows shown.
    const q = 'TargetUserName:administrator';
    const want = (await api(`/api/cases/${id}/detections?q=${encodeURIComponent(q)}`)).total as number;
    assert.ok(want > 0);
    t = Date.now();
    await page.fill('#detections-filter', q);
    await shows(want);
    timings.push(`search ${q}: ${want} found, ${Date.now() - t} ms (250 ms of it the typing pause)`);

    // Drill-down: a detection's neighbours on its host, and every detection sharing one of its values.
    await page.locator('#detections-body tr.row').first().click();
    const detail = page.locator('#detections-body tr.detail:not([hidden])');
    await detail.locator('button.pivot', { hasText: 'same host, 5 minutes either side' }).click();
    await page.waitForFunction(() => (document.getElementById('detections-from') as HTMLInputElement).value !== '' && /of \d+ detections$/.test(document.getElementById('detections-count')!.textContent!));
    const from = await page.inputValue('#detections-from');
    const to = await page.inputValue('#detections-to');
    const times = await page.locator('#detections-body tr.row td:nth-child(1)').allInnerTexts();
    assert.ok(times.length > 0 && times.every((x) => x >= from && x <= to), `${from} ${to} ${times.slice(0, 2)}`);
    await page.screenshot({ path: join(ARTEFACTS, 'ui-large-3-neighbours.png'), fullPage: true });
    await page.fill('#detections-filter', 'IpAddress:"198.51.100.23"');
    await page.fill('#detections-from', '');
    await page.locator('#detections-from').dispatchEvent('change');
    await page.fill('#detections-to', '');
    await page.locator('#detections-to').dispatchEvent('change');
    await settled({ q: 'IpAddress:"198.51.100.23"' });
    await page.locator('#detections-body tr.row').first().click();
    await page.screenshot({ path: join(ARTEFACTS, 'ui-large-4-values.png'), fullPage: true });
    await page.locator('#detections-body tr.detail:not([hidden]) button.pivot', { hasText: 'IpAddress = 198.51.100.23' }).first().click();
    await page.waitForFunction(() => (document.getElementById('detections-filter') as HTMLInputElement).value === 'IpAddress:"198.51.100.23"');
    const sharing = (await api(`/api/cases/${id}/detections?q=${encodeURIComponent('IpAddress:"198.51.100.23"')}`)).total as number;
    await shows(sharing);

    // Export: the filtered view, every row, as CSV.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#detections-export')]);
    const csv = join(tmp, 'view.csv');
    await download.saveAs(csv);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'timestamp,level,rule_title,rule_id,computer,channel,event_id,record_id,file,techniques');
    assert.equal(lines.length - 1, sharing);

    // A note and a label on a detection; the label then opens the detections that carry it.
    await page.locator('#detections-body tr.row').first().click();
    const open = page.locator('#detections-body tr.detail:not([hidden])');
    await open.locator('textarea.note').fill('logon from the attacker\'s address');
    await open.locator('input.labels-input').fill('confirmed, attacker logon');
    await open.locator('button.save-note').click();
    await page.waitForSelector('#detections-body tr.row .labels button.pivot:text("attacker logon")');
    await page.locator('#detections-body tr.row .labels button.pivot', { hasText: 'attacker logon' }).first().click();
    await settled({ label: 'attacker logon' });
    assert.match(await page.locator('#detections-count').innerText(), /^1–1 of 1 detections$/);
    await page.screenshot({ path: join(ARTEFACTS, 'ui-large-5-labelled.png'), fullPage: true });

    // Keyboard: arrow keys move along the tabs.
    await page.focus('#tabbtn-detections');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#tabbtn-attribution', 'aria-selected'), 'true');
    assert.equal(await page.isVisible('#tab-attribution'), true);

    // Rename, then delete: the case leaves the list and its folder the disk.
    page.once('dialog', (d) => void d.accept('large, renamed'));
    await page.click('#rename-case');
    await page.waitForFunction(() => document.getElementById('case-title')!.textContent === 'large, renamed');
    page.once('dialog', (d) => void d.accept());
    await page.click('#delete-case');
    await page.waitForSelector('#cases-view:not([hidden])');
    assert.equal(((await api('/api/cases')) as unknown as unknown[]).length, 0);
    assert.equal(existsSync(join(tmp, 'large-home', 'cases', String(id))), false);
    assert.deepEqual(errors, []);
    console.log(`large case (${total} detections): ${timings.join('; ')}`);
  });
});

test('web UI uploads: a file the server refuses is named, and the other files of the selection are still uploaded', async () => {
  const s = await serve(join(tmp, 'upload-home'), '--evidence-root', tmp);
  await withBrowser(s, async (browser) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(s.url);
    await newCase(page, 'uploads');
    await page.setInputFiles('#upload', [
      { name: 'Microsoft-Windows-Sysmon%4Operational.evtx', mimeType: 'application/octet-stream', buffer: Buffer.from('not really evtx') },
      { name: 'bad|name.log', mimeType: 'text/plain', buffer: Buffer.from('x') },
      { name: 'Журнал.log', mimeType: 'text/plain', buffer: Buffer.from('y') },
    ]);
    await page.waitForFunction(() => /bad\|name\.log: upload name/.test(document.getElementById('case-message')!.textContent!));
    await page.waitForFunction(() => /2 uploaded file\(s\)/.test(document.getElementById('case-meta')!.textContent!));
    await page.screenshot({ path: join(ARTEFACTS, 'ui-5-upload-refused.png') });
    const id = (await s.get<{ id: number }[]>('/api/cases'))[0]!.id;
    const files = (await s.get<{ files: { name: string }[] }>(`/api/cases/${id}`)).files;
    assert.deepEqual(files.map((f) => f.name).sort(), ['Microsoft-Windows-Sysmon%4Operational.evtx', 'Журнал.log'].sort());
    // Two tabs upload a file of one name at once: the file kept is one of them whole, and the size the case records is its own.
    const other = await page.context().newPage();
    await other.goto(s.url);
    await other.locator('#cases tr.case', { hasText: 'uploads' }).click();
    await other.waitForSelector('#case-view:not([hidden])');
    const a = Buffer.alloc(4 << 20, 'a');
    const b = Buffer.alloc(3 << 20, 'b');
    // Both sent at 1 MB/s, so that they are received at the same time.
    for (const p of [page, other]) await throttleUploads(p, 1 << 20);
    await Promise.all([page.setInputFiles('#upload', [{ name: 'twice.log', mimeType: 'text/plain', buffer: a }]), other.setInputFiles('#upload', [{ name: 'twice.log', mimeType: 'text/plain', buffer: b }])]);
    const incoming = join(tmp, 'upload-home', 'cases', String(id), 'incoming');
    const both = () => existsSync(incoming) && readdirSync(incoming).filter((f) => f.endsWith('.part')).length === 2;
    for (let i = 0; i < 200 && !both(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(both(), 'the two uploads are received at once');
    for (const p of [page, other]) await p.waitForFunction(() => /3 uploaded file\(s\)/.test(document.getElementById('case-meta')!.textContent!) && !/uploading/.test(document.getElementById('hunt-status')!.textContent!));
    const kept = readFileSync(join(tmp, 'upload-home', 'cases', String(id), 'uploads', 'twice.log'));
    assert.ok(kept.equals(a) || kept.equals(b), `kept ${kept.length} bytes`);
    const recorded = (await s.get<{ files: { name: string; size: number }[] }>(`/api/cases/${id}`)).files;
    assert.equal(recorded.find((f) => f.name === 'twice.log')?.size, kept.length);
  });
});

test('web UI: a zipped Exchange collection uploaded to an exchange case gets the checks the folder gets (web shells, LSASS dump, the build\'s exposure); an oversized request is refused and the server goes on; a re-run killed by a signal says so and leaves the last results on show', async () => {
  const { evidence, server } = simulatedServer('zip-evidence', '2MB', 5);
  const s = await serve(join(tmp, 'zip-home'), '--evidence-root', evidence);
  await withBrowser(s, async (browser) => {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
    const errors = pageErrors(page);
    await page.goto(s.url);
    // One case by folder, one by upload of the zipped folder, both hunted from the page.
    const hunted = async (name: string, path?: string) => {
      await newCase(page, name, { kind: 'exchange', path });
      if (name === 'zipped') {
        await page.setInputFiles('#upload', [{ name: 'exch01.zip', mimeType: 'application/zip', buffer: zipFolder(server, 'exch01/') }]);
        await page.waitForFunction(() => /1 uploaded file\(s\)/.test(document.getElementById('case-meta')!.textContent!));
      }
      await page.click('#run-hunt');
      await page.waitForSelector('#case-view[data-status=done]', { timeout: 120_000 });
      await page.waitForSelector('#tab-overview .matrix');
      const exposure = await page.locator('#tab-overview p', { hasText: 'known-exploited CVE' }).allInnerTexts();
      const mailboxes = await page.locator('#mail-access #mailboxes tbody tr td:first-child').allInnerTexts();
      if (name === 'folder') await page.locator('#mail-access').screenshot({ path: join(ARTEFACTS, 'ui-8-mail-access.png') });
      // Files unpacked from an upload have no times of their own: none is taken for a detection's, so the timeline ends with the intrusion, not today.
      const last = await page.locator('#tab-overview div', { hasText: /^last detection \(UTC\)$/ }).locator('xpath=..').innerText();
      await page.click('#tabbtn-detections');
      const count = async (q: string) => {
        await page.fill('#detections-filter', q);
        await page.waitForFunction((part) => {
          const box = document.querySelector('#tab-detections')!;
          return box.getAttribute('data-loaded') === box.getAttribute('data-loading') && (box.getAttribute('data-loaded') ?? '').includes(part);
        }, new URLSearchParams({ q }).toString());
        return page.locator('#detections-count').innerText();
      };
      const webShells = await count('rule:"Unexpected page"');
      const lsass = await count('rule:"LSASS memory dump"');
      return { exposure, mailboxes, webShells, lsass, last, detections: /· (\d+) detections/.exec(await page.locator('#case-meta').innerText())![1] };
    };
    const byFolder = await hunted('folder', server);
    const byZip = await hunted('zipped');
    await page.screenshot({ path: join(ARTEFACTS, 'ui-6-zipped-collection.png'), fullPage: true });
    assert.equal(byFolder.exposure.length, 1);
    assert.match(byFolder.exposure[0]!, /open to ([1-9]\d*) known-exploited CVE/);
    assert.match(byFolder.webShells, /of [1-9]\d* detections$/);
    assert.match(byFolder.lsass, /of [1-9]\d* detections$/);
    assert.match(byFolder.last, /^2021-03-0\d /);
    // The mailboxes the intruder reached, as the ground truth names them.
    const truth = JSON.parse(readFileSync(join(server, 'ground-truth.json'), 'utf8')) as { mailAccess: { mailbox: string }[] };
    assert.deepEqual([...byFolder.mailboxes].sort(), truth.mailAccess.map((m) => m.mailbox).sort());
    assert.deepEqual(byZip, byFolder);

    // A request body past the limit (64 KiB) is refused with 413, and the page goes on working.
    const status = await page.evaluate(async (token) => (await fetch('/api/cases', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(200_000) }) })).status, s.token);
    assert.equal(status, 413);
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('#cases tr.case').length === 2);
    // A re-run killed by a signal: the page says how it ended and still shows the last finished hunt's results.
    await page.locator('#cases tr.case', { hasText: 'zipped' }).click();
    await page.waitForSelector('#case-view[data-status=done]');
    // The page's answer to its start is held until the run has been killed and has ended on the server: the page
    // first reads the case after its run ended, so no poll sees it end (the race CI met), and it must still draw.
    const zippedId = (await s.get<{ id: number; name: string }[]>('/api/cases')).find((c) => c.name === 'zipped')!.id;
    await page.route('**/api/cases/*/hunt', async (route) => {
      const answer = await route.fetch();
      await s.killHunts();
      for (let i = 0; i < 300 && (await s.get<{ status: string }>(`/api/cases/${zippedId}`)).status === 'running'; i++) await new Promise((r) => setTimeout(r, 100));
      await route.fulfill({ response: answer });
    });
    await page.click('#run-hunt');
    await page.waitForSelector('#case-view[data-status=failed]', { timeout: 30_000 });
    assert.match(await page.locator('#case-message').innerText(), /stopped by SIGKILL/);
    await page.waitForSelector('#earlier-results');
    assert.ok(await page.locator('#tab-overview .matrix').isVisible());
    assert.equal(await page.locator('#tab-overview p', { hasText: 'known-exploited CVE' }).innerText(), byZip.exposure[0]);
    await page.screenshot({ path: join(ARTEFACTS, 'ui-7-killed-rerun.png'), fullPage: true });
    // The browser logs the refused request; nothing else went wrong.
    assert.deepEqual(errors.filter((e) => !/\b413\b/.test(e)), []);
  });
});

test('web UI: a hunt started while a file is still uploading reads only whole uploads, the next one all of them; what the case keeps is its user\'s alone', async () => {
  const home = join(tmp, 'partial-home');
  const s = await serve(home, '--evidence-root', tmp);
  await withBrowser(s, async (browser) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = pageErrors(page);
    await page.goto(s.url);
    await newCase(page, 'partial');
    const id = (await s.get<{ id: number }[]>('/api/cases'))[0]!.id;
    const line = (n: number) => jsonEvent({ EventRecordID: n });
    await page.setInputFiles('#upload', [{ name: 'first.jsonl', mimeType: 'application/json', buffer: Buffer.from(line(1)) }]);
    await page.waitForFunction(() => /1 uploaded file\(s\)/.test(document.getElementById('case-meta')!.textContent!));
    // The second file is sent slowly (Chromium throttles the upload), and a hunt starts while it is on its way.
    const cdp = await throttleUploads(page, 128 * 1024);
    const big = Buffer.from(Array.from({ length: 20_000 }, (_, i) => line(i + 2)).join(''));
    await page.setInputFiles('#upload', [{ name: 'second.jsonl', mimeType: 'application/json', buffer: big }]);
    const incoming = join(home, 'cases', String(id), 'incoming');
    for (let i = 0; i < 400 && !(existsSync(incoming) && readdirSync(incoming).some((f) => f.endsWith('.part'))); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(readdirSync(incoming).some((f) => f.endsWith('.part')), 'the upload is under way');
    await page.click('#run-hunt');
    await page.waitForSelector('#case-view[data-status=done]', { timeout: 60_000 });
    assert.ok(readdirSync(incoming).some((f) => f.endsWith('.part')), 'the upload was still under way when the hunt ended');
    assert.match((await page.locator('#hunt-notes').textContent())!, /\b1 files, 1 events\b/);
    // Whole at last: the next hunt reads both files.
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await page.waitForFunction(() => /2 uploaded file\(s\)/.test(document.getElementById('case-meta')!.textContent!), undefined, { timeout: 120_000 });
    await page.click('#run-hunt');
    await page.waitForFunction(() => document.getElementById('case-view')!.getAttribute('data-status') === 'done' && /\b2 files, 20001 events\b/.test(document.getElementById('hunt-notes')!.textContent!), undefined, { timeout: 60_000 });
    // Uploads, detections, reports and the store: readable and writable by their user only.
    const open: string[] = [];
    const walk = (p: string) => {
      const st = statSync(p);
      if (st.mode & 0o077) open.push(`${p} ${(st.mode & 0o777).toString(8)}`);
      if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    };
    walk(join(home, 'cases'));
    walk(join(home, 'cases.sqlite'));
    assert.deepEqual(open, []);
    assert.ok(existsSync(join(home, 'cases', String(id), 'uploads', 'second.jsonl')));
    assert.deepEqual(errors, []);
  });
});

test('web UI: a hunt past --max-hunts is refused with the reason on the page; an object as evidence folder, a token in the query and a lower-case bearer are answered as they should be', async () => {
  const { evidence, server } = simulatedServer('limit-evidence', '4MB', 3);
  const s = await serve(join(tmp, 'limit-home'), '--evidence-root', evidence, '--max-hunts', '1');
  await withBrowser(s, async (browser) => {
    const page = await (await browser.newContext()).newPage();
    const errors = pageErrors(page);
    await page.goto(s.url);
    for (const name of ['first', 'second']) {
      await newCase(page, name, { kind: 'exchange', path: server });
      await page.click('#run-hunt');
      if (name === 'first') await page.waitForSelector('#case-view[data-status=running]');
    }
    // The second case's hunt waits for no one: it is refused, and the page says why.
    await page.waitForFunction(() => /--max-hunts/.test(document.getElementById('case-message')!.textContent!));
    assert.notEqual(await page.getAttribute('#case-view', 'data-status'), 'running');
    // From the page's own context: what a script in the browser meets.
    const answers = await page.evaluate(async (token) => {
      const status = async (path: string, init: RequestInit) => (await fetch(path, init)).status;
      return {
        objectAsFolder: await status('/api/cases', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', kind: 'exchange', evidencePath: { path: '/' } }) }),
        tokenInQuery: await status(`/api/cases?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'y' }) }),
        lowerCaseBearer: await status('/api/cases', { headers: { authorization: `bearer ${token}` } }),
      };
    }, s.token);
    assert.deepEqual(answers, { objectAsFolder: 400, tokenInQuery: 401, lowerCaseBearer: 200 });
    assert.deepEqual(errors.filter((e) => !/\b(400|401|429)\b/.test(e)), []);
  });
});

test('web UI: a link in an evidence folder that leads out of the evidence roots is named in the hunt\'s notes and not read; an upload that would leave less free disk than --disk-reserve is refused with the reason on the page', async () => {
  const roots = join(tmp, 'link-evidence');
  const folder = join(roots, 'host');
  const outside = join(tmp, 'link-outside');
  mkdirSync(folder, { recursive: true });
  mkdirSync(outside);
  const event = (host: string) => jsonEvent({ Computer: host });
  writeFileSync(join(folder, 'inside.jsonl'), event('INSIDE'));
  writeFileSync(join(outside, 'secret.jsonl'), event('OUTSIDE'));
  symlinkSync(join(outside, 'secret.jsonl'), join(folder, 'link.jsonl'));
  const s = await serve(join(tmp, 'link-home'), '--evidence-root', roots, '--disk-reserve', String(2 ** 50));
  await withBrowser(s, async (browser) => {
    const page = await (await browser.newContext()).newPage();
    const errors = pageErrors(page);
    await page.goto(s.url);
    await newCase(page, 'links', { path: folder });
    await page.click('#run-hunt');
    await page.waitForSelector('#case-view[data-status=done]', { timeout: 60_000 });
    const notes = (await page.locator('#hunt-notes').textContent())!;
    assert.match(notes, /link\.jsonl: a symbolic link out of the folders allowed \(--within\); skipped/);
    assert.match(notes, /\b1 files, 1 events\b/);
    await page.setInputFiles('#upload', [{ name: 'more.jsonl', mimeType: 'application/json', buffer: Buffer.from(event('UPLOADED')) }]);
    await page.waitForFunction(() => /more\.jsonl: .*disk/i.test(document.getElementById('case-message')!.textContent!));
    assert.match(await page.locator('#case-meta').innerText(), /0 uploaded file\(s\)/);
    assert.deepEqual(errors.filter((e) => !/\b507\b/.test(e)), []);
  });
});
