import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { writeLargeCase } from '../test/helpers/large-case.js';

/** Bytes of the files under a folder. */
const bytesUnder = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? bytesUnder(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 10) / 10;

/**
 * `npm run bench -- serve`: a case of BENCH_SERVE_DETECTIONS detections (300,000 by default) made
 * through \`spoor serve\` as an analyst makes one (a hunt of generated EVTX with a rule every event
 * matches), timing each phase and how long the server takes to answer while it imports; then, on the
 * finished case, what an analyst waits for: the page, the case, its summary, the first page of
 * detections and one far down, and searches (median of 5 each).
 */
export async function serveBench(tmp: string, spoor: string) {
  const detections = Number(process.env.BENCH_SERVE_DETECTIONS ?? 300_000);
  const { evidence, rules } = writeLargeCase(join(tmp, 'serve'), detections);
  const child: ChildProcess = spawn(process.execPath, [spoor, 'serve', '--port', '0', '--evidence-root', join(tmp, 'serve', 'evidence'), '--rules', rules], { env: { ...process.env, SPOOR_HOME: join(tmp, 'serve-home') }, stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const url = new URL(await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve)));
    const token = new URLSearchParams(url.hash.slice(1)).get('token')!;
    const timed = async (path: string, init: RequestInit = {}) => {
      const t = performance.now();
      const r = await fetch(new URL(path, url.origin), { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
      const body = await r.text();
      if (!r.ok) throw new Error(`${path}: ${r.status} ${body.slice(0, 200)}`);
      return { ms: performance.now() - t, body };
    };
    const c = JSON.parse((await timed('/api/cases', { method: 'POST', body: JSON.stringify({ name: 'bench', evidencePath: evidence }) })).body) as { id: number };
    const t0 = performance.now();
    await timed(`/api/cases/${c.id}/hunt`, { method: 'POST', body: '{}' });
    // The server's answers while the hunt runs and its detections are imported: polled as the UI does, but every 100 ms.
    const phases = new Map<string, number>();
    const waits: number[] = [];
    let state: { status: string; detections: number; progress?: { phase?: string } };
    for (;;) {
      const r = await timed(`/api/cases/${c.id}`);
      state = JSON.parse(r.body) as typeof state;
      const phase = state.status === 'running' ? state.progress?.phase ?? 'running' : state.status;
      if (!phases.has(phase)) phases.set(phase, performance.now() - t0);
      if (phase === 'importing' || phase === 'reporting') waits.push(r.ms);
      if (state.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const total = (performance.now() - t0) / 1000;
    if (state.status !== 'done') throw new Error(`the bench's hunt ended ${state.status}`);
    const five = async (path: string) => {
      const runs: number[] = [];
      let body = '';
      for (let i = 0; i < 5; i++) ({ ms: runs[i], body } = await timed(path));
      return { ms: round(median(runs)), body };
    };
    const pages = {
      page: (await five('/')).ms,
      case: (await five(`/api/cases/${c.id}`)).ms,
      summary: (await five(`/api/cases/${c.id}/summary`)).ms,
      firstDetections: (await five(`/api/cases/${c.id}/detections?limit=100`)).ms,
      detectionsFarDown: (await five(`/api/cases/${c.id}/detections?limit=100&offset=${Math.max(state.detections - 100, 0)}`)).ms,
    };
    const searches: { q: string; ms: number; found: number }[] = [];
    for (const q of ['198.51.100.23', 'TargetUserName:administrator', 'CommandLine:powershell', '"cmd.exe"', 'level:low Image:cmd', 'lsa*', 'EventID:4624 IpAddress:"10.0.0.12"']) {
      const r = await five(`/api/cases/${c.id}/detections?limit=100&q=${encodeURIComponent(q)}`);
      searches.push({ q, ms: r.ms, found: (JSON.parse(r.body) as { total: number }).total });
    }
    const at = (p: string) => round((phases.get(p) ?? NaN) / 1000);
    const storage = { evidenceMB: round(bytesUnder(evidence) / 1e6), caseMB: round(bytesUnder(join(tmp, 'serve-home')) / 1e6) };
    console.log(`\nserve: a case of ${state.detections} detections (hunt of ${detections} generated events, one rule matching each)`);
    console.log(`  hunt ${at('importing')} s, import done at ${at('reporting')} s, report done at ${round(total)} s`);
    console.log(`  server answers while importing and reporting: median ${round(median(waits))} ms, slowest ${round(Math.max(...waits))} ms (${waits.length} requests)`);
    console.log(`  storage: ${storage.evidenceMB} MB of evidence, ${storage.caseMB} MB of case data (store, search index, detections, reports)`);
    for (const [name, ms] of Object.entries(pages)) console.log(`  ${name.padEnd(20)} ${String(ms).padStart(8)} ms`);
    for (const s of searches) console.log(`  search ${s.q.padEnd(26)} ${String(s.ms).padStart(8)} ms  ${s.found} found`);
    return { detections: state.detections, events: detections, huntSeconds: at('importing'), importDoneSeconds: at('reporting'), totalSeconds: round(total), answerWhileImportingMs: { median: round(median(waits)), max: round(Math.max(...waits)), requests: waits.length }, pagesMs: pages, searches, storage };
  } finally {
    child.kill('SIGTERM');
  }
}
