import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { ROOT } from './paths.js';

/** Debian's Chromium (.ci/run installs it); Playwright never downloads a browser here. */
export const CHROMIUM = process.env.SPOOR_CHROMIUM ?? '/usr/bin/chromium';
/** Where browser tests leave their screenshots (CI keeps them as artefacts). */
export const ARTEFACTS = join(ROOT, 'test-artifacts');

export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTEFACTS, { recursive: true });
  // As root in a closed network: no sandbox, and none of Chromium's own background connections.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Console errors and uncaught exceptions of a page, gathered as it runs. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  return errors;
}
