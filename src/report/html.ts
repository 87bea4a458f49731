import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseReport } from './case-report.js';

/** The report's own scripts and styles (assets/report), shared with the web UI. */
export const REPORT_ASSETS = fileURLToPath(new URL('../../../assets/report/', import.meta.url));

/** Chart.js's browser build, inlined so that the report opens with no network. */
export const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

let assets: { css: string; chart: string; render: string; report: string } | undefined;
const loadAssets = () =>
  (assets ??= {
    css: readFileSync(`${REPORT_ASSETS}report.css`, 'utf8'),
    chart: readFileSync(CHART_JS, 'utf8'),
    render: readFileSync(`${REPORT_ASSETS}render.js`, 'utf8'),
    report: readFileSync(`${REPORT_ASSETS}report.js`, 'utf8'),
  });

/** JSON that can sit inside a <script> element: no "</script>", no line separators JavaScript would choke on. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** A script's text inside <script>: only "</script" could end it early. */
const inlineScript = (js: string) => js.replace(/<\/(script)/gi, '<\\/$1');

/** One self-contained HTML file: styles, Chart.js, the views and the case's data, all inline. */
export function caseToHtml(report: CaseReport): string {
  const a = loadAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(report.title)}: Spoor report</title>
<style>${a.css}</style>
</head>
<body>
<header class="top"><h1>${escapeHtml(report.title)}</h1><span class="meta">Spoor report · generated ${escapeHtml(report.generated)} · ${escapeHtml(report.tool)}${report.attack ? ` · ATT&amp;CK ${escapeHtml(report.attack)}` : ''}</span></header>
<main></main>
<script type="application/json" id="spoor-data">${scriptJson(report)}</script>
<script>${inlineScript(a.chart)}</script>
<script>${inlineScript(a.render)}</script>
<script>${inlineScript(a.report)}</script>
</body>
</html>
`;
}
