import { csvLine, type BuildRow, PRODUCTS, type Product } from '../exchange/tables.js';

export const EXCHANGE_BUILDS_URL = 'https://raw.githubusercontent.com/microsoft/CSS-Exchange/main/Shared/Get-ExchangeBuildVersionInformation.ps1';
const SOURCE = 'microsoft/CSS-Exchange Shared/Get-ExchangeBuildVersionInformation.ps1 (spoor update)';

/**
 * Reads the build dictionary of CSS-Exchange's Get-ExchangeBuildVersionInformation.ps1, the table the
 * Exchange Health Checker uses: `"Exchange2019" = @{ "CU14" = (NewCUAndSUObject "15.2.1544.4" @{
 * "Mar24SU" = "15.2.1544.9" … }) … }`. Only that shape is read; the script is never run.
 */
export function parseBuildDictionary(text: string): BuildRow[] {
  const rows: BuildRow[] = [];
  let product: Product | undefined;
  let cu: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const p = /^\s*"(Exchange\w+)"\s*=\s*@\{\s*$/.exec(line);
    if (p) {
      product = (PRODUCTS as readonly string[]).includes(p[1]!) ? (p[1] as Product) : undefined;
      cu = undefined;
      continue;
    }
    const c = /^\s*"(CU\d+|RTM)"\s*=\s*\(NewCUAndSUObject\s+"(\d+\.\d+\.\d+\.\d+)"/.exec(line);
    if (c && product) {
      cu = c[1]!;
      rows.push({ product, cu, update: '', build: c[2]!, source: SOURCE });
      continue;
    }
    const u = /^\s*"(\w+(?:SU|HU)\w*)"\s*=\s*"(\d+\.\d+\.\d+\.\d+)"\s*$/.exec(line);
    if (u && product && cu) rows.push({ product, cu, update: u[1]!, build: u[2]!, source: SOURCE });
  }
  return rows;
}

/**
 * The build table as Spoor's CSV: the downloaded builds and those Spoor ships that the download lacks
 * (RTM builds, which CSS-Exchange's dictionary does not list), after checking the download is a whole
 * table: every product, and at least as many builds of each as Spoor ships from that source.
 */
export function buildTableCsv(rows: readonly BuildRow[], shipped: readonly BuildRow[]): string {
  const missing = PRODUCTS.filter((p) => !rows.some((r) => r.product === p));
  if (missing.length) throw new Error(`the build list names no builds of ${missing.join(', ')}: not the CSS-Exchange build table`);
  const key = (r: BuildRow) => `${r.product},${r.cu},${r.update},${r.build}`;
  const have = new Set(rows.map(key));
  const kept = shipped.filter((r) => !have.has(key(r)));
  const lost = kept.filter((r) => r.cu !== 'RTM' || r.product === 'ExchangeSE');
  if (lost.length > 0) throw new Error(`the build list lacks ${lost.length} builds Spoor knows (${lost.slice(0, 3).map((r) => `${r.product} ${r.cu} ${r.update || 'RTM'} ${r.build}`).join(', ')}…): refused`);
  return `product,cu,update,build,source\n${[...kept, ...rows].map((r) => csvLine([r.product, r.cu, r.update, r.build, r.source])).join('\n')}\n`;
}
