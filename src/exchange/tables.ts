import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { spoorHome } from '../common/home.js';

export const PRODUCTS = ['Exchange2013', 'Exchange2016', 'Exchange2019', 'ExchangeSE'] as const;
export type Product = (typeof PRODUCTS)[number];

/** One released build: its product, cumulative update, the security or hotfix update it carries ('' for the CU itself). */
export interface BuildRow {
  product: Product;
  cu: string;
  update: string;
  build: string;
  source: string;
}

/** A CVE an update fixes, for the products it names. */
export interface CveFix {
  update: string;
  cve: string;
  products: Product[];
  source: string;
}

export interface ExploitedCve {
  cve: string;
  name: string;
  source: string;
}

export interface ExchangeTables {
  builds: BuildRow[];
  fixes: CveFix[];
  exploited: Map<string, ExploitedCve>;
  /** Where the build table was read from (an update's copy, or the one Spoor ships). */
  buildsFrom: string;
}

/** The tables Spoor ships (data/exchange/). */
export const BUNDLED_EXCHANGE_DATA = new URL('../../../data/exchange/', import.meta.url).pathname;

/** Where `spoor update` puts a newer build table. */
export const updatedExchangeData = () => join(spoorHome(), 'exchange');

const readCsv = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];

const isProduct = (p: string): p is Product => (PRODUCTS as readonly string[]).includes(p);

export function parseBuildRows(file: string): BuildRow[] {
  return readCsv(file).map((r, i) => {
    if (!r.product || !isProduct(r.product) || !r.cu || !/^\d+\.\d+\.\d+\.\d+$/.test(r.build ?? '')) throw new Error(`${file}: row ${i + 2}: not a build row (product,cu,update,build,source)`);
    return { product: r.product, cu: r.cu, update: r.update ?? '', build: r.build!, source: r.source ?? '' };
  });
}

/** The Exchange tables: the build table from the latest `spoor update` when there is one, else Spoor's own. */
export function loadExchangeTables(dataDir?: string): ExchangeTables {
  const updated = join(updatedExchangeData(), 'builds.csv');
  const buildsFrom = dataDir ? join(dataDir, 'builds.csv') : existsSync(updated) ? updated : join(BUNDLED_EXCHANGE_DATA, 'builds.csv');
  const dir = dataDir ?? BUNDLED_EXCHANGE_DATA;
  const fixes = readCsv(join(dir, 'update-cves.csv')).map((r) => ({ update: r.update!, cve: r.cve!, products: (r.products ?? '').split('|').filter(isProduct), source: r.source ?? '' }));
  const exploited = new Map(readCsv(join(dir, 'exploited.csv')).map((r) => [r.cve!, { cve: r.cve!, name: r.name ?? '', source: r.source ?? '' }]));
  return { builds: parseBuildRows(buildsFrom), fixes, exploited, buildsFrom };
}

/** A CSV line, quoting fields that need it. */
export function csvLine(fields: readonly string[]): string {
  return fields.map((f) => (/[",\n\r]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',');
}
