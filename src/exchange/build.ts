import type { BuildRow, ExchangeTables, Product } from './tables.js';

/** A build number as its four parts (15.2.1544.9). */
export type BuildNumber = readonly [number, number, number, number];

const PRODUCT_NAMES: Record<Product | 'Exchange2010', string> = {
  Exchange2010: 'Exchange Server 2010',
  Exchange2013: 'Exchange Server 2013',
  Exchange2016: 'Exchange Server 2016',
  Exchange2019: 'Exchange Server 2019',
  ExchangeSE: 'Exchange Server Subscription Edition',
};

/**
 * Reads a build number as Exchange writes it: `15.2.1544.9`, the long form of its logs
 * (`15.02.1544.009`), or as the admin tools show it (`Version 15.2 (Build 1544.9)`).
 */
export function parseBuild(text: string): BuildNumber | undefined {
  const t = text.trim();
  const shown = /^(?:Version\s+)?(\d+)\.(\d+)\s*\(Build\s+(\d+)\.(\d+)\)$/i.exec(t);
  const plain = shown ?? /^(\d{1,2})\.(\d{1,2})\.(\d{1,5})\.(\d{1,4})$/.exec(t);
  if (!plain) return undefined;
  const n = plain.slice(1, 5).map(Number) as [number, number, number, number];
  return n[0] === 14 || n[0] === 15 ? n : undefined;
}

export const buildText = (b: BuildNumber) => b.join('.');

export interface OpenCve {
  cve: string;
  /** The update that fixes it for this build's product. */
  fixedBy: string;
  exploited: boolean;
  name?: string;
  source: string;
}

export interface BuildAssessment {
  build: string;
  product: string;
  productName: string;
  cu?: string;
  update?: string;
  /** Whether the exact build is in the table (an unknown build of a known CU is still judged by number). */
  known: boolean;
  /** Whether its exposure could be worked out at all (not for Exchange 2010, or a build of no known CU). */
  assessed: boolean;
  /** The known-exploited CVEs the build is still open to. */
  cves: OpenCve[];
  /** Every CVE in the table the build is still open to, exploited or not. */
  openCves: OpenCve[];
  note?: string;
}

/** Builds of one product by CU (the third part of the build number names the CU). */
function cuBuilds(rows: readonly BuildRow[], product: Product, cuNumber: number): BuildRow[] {
  return rows.filter((r) => r.product === product && Number(r.build.split('.')[2]) === cuNumber);
}

function productOf(b: BuildNumber, rows: readonly BuildRow[]): Product | 'Exchange2010' | undefined {
  if (b[0] === 14) return 'Exchange2010';
  if (b[1] === 0) return 'Exchange2013';
  if (b[1] === 1) return 'Exchange2016';
  if (b[1] !== 2) return undefined;
  // Subscription Edition continues 2019's numbering: its CUs are told apart by the table, or by being newer.
  if (rows.some((r) => r.product === 'ExchangeSE' && Number(r.build.split('.')[2]) === b[2])) return 'ExchangeSE';
  const lastSe = rows.filter((r) => r.product === 'ExchangeSE').map((r) => Number(r.build.split('.')[2]));
  return lastSe.length && b[2] >= Math.min(...lastSe) ? 'ExchangeSE' : 'Exchange2019';
}

/**
 * Whether a build is still open to a CVE its product's update `fix` closes: on a CU that received the
 * update, when the build is older than that update's build; on a CU that did not, when the CU is older
 * than the newest CU that received it (CUs released after the update include the fix; older ones never
 * got it). Undefined when no build of the product carries the update (the table cannot say).
 */
export function exposedTo(b: BuildNumber, product: Product, fix: string, rows: readonly BuildRow[]): boolean | undefined {
  const fixed = rows.filter((r) => r.product === product && r.update === fix).map((r) => r.build.split('.').map(Number));
  if (fixed.length === 0) return undefined;
  const sameCu = fixed.find((f) => f[2] === b[2]);
  if (sameCu) return b[3] < sameCu[3]!;
  return b[2] < Math.max(...fixed.map((f) => f[2]!));
}

/** Names a build's product, CU and update, and the CVEs of the table it is still open to. */
export function assessBuild(text: string, tables: ExchangeTables): BuildAssessment | undefined {
  const b = parseBuild(text);
  if (!b) return undefined;
  const build = buildText(b);
  const product = productOf(b, tables.builds);
  if (!product) return undefined;
  const base = { build, product, productName: PRODUCT_NAMES[product], cves: [], openCves: [] };
  if (product === 'Exchange2010') {
    return { ...base, known: false, assessed: false, note: 'Exchange Server 2010 left support on 13 October 2020: Spoor does not track its roll-ups; treat it as open to every later Exchange vulnerability that affects it and replace it' };
  }
  const cu = cuBuilds(tables.builds, product, b[2]);
  const exact = cu.filter((r) => r.build === build);
  // Where one build is both a CU and an update (a CU that shipped with the month's fix), it is the update.
  const row = exact.find((r) => r.update) ?? exact[0];
  const cuName = cu[0]?.cu;
  const thirds = tables.builds.filter((r) => r.product === product).map((r) => Number(r.build.split('.')[2]));
  if (!cuName && (thirds.length === 0 || b[2] > Math.max(...thirds))) {
    return { ...base, known: false, assessed: false, note: `newer than every ${PRODUCT_NAMES[product]} build in the table: run \`spoor update --only exchange\` for a newer one` };
  }
  const latest = cu.length ? cu.reduce((a, r) => (Number(r.build.split('.')[3]) > Number(a.build.split('.')[3]) ? r : a)) : undefined;
  const open: OpenCve[] = [];
  const seen = new Set<string>();
  for (const fix of tables.fixes) {
    if (!fix.products.includes(product) || seen.has(fix.cve)) continue;
    if (exposedTo(b, product, fix.update, tables.builds) !== true) continue;
    seen.add(fix.cve);
    const exploited = tables.exploited.get(fix.cve);
    open.push({ cve: fix.cve, fixedBy: fix.update, exploited: !!exploited, ...(exploited ? { name: exploited.name, source: exploited.source } : { source: fix.source }) });
  }
  const update = row ? row.update || undefined : undefined;
  open.sort((x, y) => x.cve.localeCompare(y.cve));
  const nextCu = Math.min(...thirds.filter((t) => t > b[2]));
  const note = row
    ? undefined
    : latest
      ? `build not in the table; judged by its number within ${cuName} (newest known build of this CU: ${latest.build}${latest.update ? `, ${latest.update}` : ''})`
      : `not a CU in the table (older than ${tables.builds.find((r) => r.product === product && Number(r.build.split('.')[2]) === nextCu)?.cu}); judged as a CU that never received the later updates`;
  return { ...base, ...(cuName ? { cu: cuName } : {}), ...(update ? { update } : {}), known: !!row, assessed: true, cves: open.filter((c) => c.exploited), openCves: open, ...(note ? { note } : {}) };
}
