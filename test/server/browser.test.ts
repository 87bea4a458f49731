import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ARTEFACTS, launchChromium, pageErrors } from '../helpers/browser.js';
import { DATA, SPOOR } from '../helpers/paths.js';
import { serve } from '../helpers/serve.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-ui-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('web UI in Chromium: create a case, hunt the simulated server with live progress, see detections, open the attribution, download the report', async () => {
  const evidence = join(tmp, 'evidence');
  mkdirSync(evidence);
  const server = join(evidence, 'exch01');
  assert.equal(spawnSync(process.execPath, [SPOOR, 'demo', 'generate', server, '--size', '4MB', '--intrusion', 'proxylogon', '--seed', '11']).status, 0);
  const s = await serve(join(tmp, 'home'), '--evidence-root', evidence, '--attack', `${DATA}/attack/enterprise-attack.json`, '--ioc', `${DATA}/ioc/chirp/AA21062A.yaml`);
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    const page = await context.newPage();
    const errors = pageErrors(page);
    await page.goto(s.url);
    // The token left the address bar (and history) for this origin's sessionStorage.
    assert.equal(new URL(page.url()).hash, '');
    assert.ok(!page.url().includes(s.token));

    await page.fill('#case-name', 'EXCH01 ProxyLogon');
    await page.selectOption('#case-kind', 'exchange');
    await page.fill('#case-path', server);
    await page.click('#create-case');
    await page.waitForSelector('#case-view:not([hidden])');
    assert.equal(await page.locator('#case-title').innerText(), 'EXCH01 ProxyLogon');

    await page.fill('#sector', 'higher education');
    await page.click('#run-hunt');
    // Live progress: the page shows the hunt running before it shows it done.
    await page.waitForSelector('#case-view[data-status=running]', { timeout: 10_000 });
    await page.screenshot({ path: join(ARTEFACTS, 'ui-1-hunting.png') });
    await page.waitForSelector('#case-view[data-status=done]', { timeout: 120_000 });
    await page.waitForSelector('#timeline-chart');
    // What the hunt said about its rules and input is on the page, not only in a server log.
    assert.match(await page.locator('#hunt-notes').textContent() ?? '', /run spoor update for SigmaHQ's/);
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
    const cases = (await (await fetch(new URL('/api/cases', s.base), { headers: { authorization: `Bearer ${s.token}` } })).json()) as { id: number }[];
    const api = await (await fetch(new URL(`/api/cases/${cases[0]!.id}/detections?q=CommandLine%3Awhoami`, s.base), { headers: { authorization: `Bearer ${s.token}` } })).json();
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
  } finally {
    await browser.close();
    await s.stop();
  }
});
