import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spoorHome } from '../common/home.js';

/** The rules shipped with Spoor (rules/ in the package). */
export const BUNDLED_RULES = fileURLToPath(new URL('../../../rules', import.meta.url));

/** Where `spoor update` keeps the SigmaHQ rule set. */
export const sigmaHome = () => join(spoorHome(), 'sigma');

/**
 * The rules a command uses when given none: the SigmaHQ set `spoor update` fetched (its `rules*`
 * folders, not deprecated/ or unsupported/), else the few rules Spoor ships.
 */
export function defaultRules(): { paths: string[]; source: string } {
  const home = sigmaHome();
  if (existsSync(home)) {
    const dirs = readdirSync(home, { withFileTypes: true }).filter((d) => d.isDirectory() && /^rules/.test(d.name)).map((d) => join(home, d.name)).sort();
    if (dirs.length) return { paths: dirs, source: `SigmaHQ rules from spoor update (${home})` };
  }
  return { paths: [BUNDLED_RULES], source: `Spoor's own rules (${BUNDLED_RULES}); run spoor update for SigmaHQ's` };
}

/** Spoor's own rules always, with SigmaHQ's when spoor update fetched them (what exchange scan and mail-access run). */
export function spoorAndDefaultRules(): { paths: string[]; source: string } {
  const sigma = defaultRules();
  return sigma.paths[0] === BUNDLED_RULES ? sigma : { paths: [BUNDLED_RULES, ...sigma.paths], source: `Spoor's own rules and SigmaHQ's from spoor update (${sigmaHome()})` };
}
