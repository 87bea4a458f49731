import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, statfsSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHART_JS, REPORT_ASSETS } from '../report/html.js';
import { REPORT_FILES } from '../report/formats.js';
import { CSV_HEADER, huntRecordCsv } from '../report/detections.js';
import type { HuntRecord } from '../report/hunt-output.js';
import { HuntJobs } from './jobs.js';
import { Refused, evidenceFolder, uploadName } from './paths.js';
import { SearchError } from './search.js';
import { type CaseKind, CaseStore } from './store.js';

export interface ServeOptions {
  /** SPOOR_HOME: the database and every case's files live under it. */
  home: string;
  host: string;
  port: number;
  /** Folders whose sub-folders a case may name as its evidence. */
  evidenceRoots: string[];
  /** Largest upload, bytes. */
  maxUpload: number;
  /** Free space (bytes) an upload must leave on the disk. */
  diskReserve: number;
  /** Hunts run at once, over all cases (each is a process with its threads and memory). */
  maxHunts: number;
  token?: string;
  /** ATT&CK for attribution (default: what spoor update installed, else the shipped copy). */
  attack?: string;
  huntArguments?: string[];
  /** What every hunt runs with, as the case view shows it: the rules (paths, or where the default ones are) and the IoC feeds. */
  ruleSet?: { rules: string; iocFeeds: string[] };
}

const UI = fileURLToPath(new URL('../../../assets/ui/', import.meta.url));
/** Everything the server serves that is not a case's own: a fixed list, so no URL can name another file. */
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: join(UI, 'index.html'), type: 'text/html; charset=utf-8' },
  '/static/app.js': { file: join(UI, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/static/app.css': { file: join(UI, 'app.css'), type: 'text/css; charset=utf-8' },
  '/static/report.css': { file: join(REPORT_ASSETS, 'report.css'), type: 'text/css; charset=utf-8' },
  '/static/render.js': { file: join(REPORT_ASSETS, 'render.js'), type: 'text/javascript; charset=utf-8' },
  '/static/chart.js': { file: CHART_JS, type: 'text/javascript; charset=utf-8' },
};
const DOWNLOADS: Record<string, { file: string; type: string }> = {
  html: { file: REPORT_FILES.html, type: 'text/html; charset=utf-8' },
  stix: { file: REPORT_FILES.stix, type: 'application/json' },
  navigator: { file: REPORT_FILES.navigator, type: 'application/json' },
  jsonl: { file: 'detections.jsonl', type: 'application/x-ndjson' },
};
const MAX_JSON_BODY = 64 * 1024;
/** An analyst's note on a detection, characters; and what a label may be. */
const MAX_NOTE = 4000;
const LABEL = /^[\p{L}\p{N}][\p{L}\p{N} ._:-]{0,39}$/u;
/** How often (bytes received) an upload of undeclared length looks at the free space left. */
const DISK_CHECK_BYTES = 4 * 1024 * 1024;

export interface RunningServer {
  server: Server;
  url: string;
  token: string;
  close: () => Promise<void>;
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  // Evidence can hold LSASS dumps and mail: whatever the server and its hunts (children inherit the
  // mask) create is its user's alone. What an earlier version left open is closed below.
  process.umask(0o077);
  mkdirSync(join(o.home, 'cases'), { recursive: true, mode: 0o700 });
  privateTree(join(o.home, 'cases'));
  // Uploads a killed server left unfinished: never hunted, and gone.
  for (const id of readdirSync(join(o.home, 'cases'))) rmSync(join(o.home, 'cases', id, INCOMING), { recursive: true, force: true });
  for (const f of ['cases.sqlite', 'cases.sqlite-wal', 'cases.sqlite-shm']) if (existsSync(join(o.home, f))) chmodSync(join(o.home, f), 0o600);
  const db = join(o.home, 'cases.sqlite');
  const store = new CaseStore(db);
  const caseDir = (id: number) => join(o.home, 'cases', String(id));
  const jobs = new HuntJobs({ store, db, caseDir, evidenceRoots: o.evidenceRoots, ...(o.attack ? { attack: o.attack } : {}), huntArguments: o.huntArguments ?? [] });
  const token = o.token ?? randomBytes(24).toString('base64url');
  const expected = Buffer.from(token);
  const tokenOk = (t: string | undefined) => {
    if (!t) return false;
    const b = Buffer.from(t);
    return b.length === expected.length && timingSafeEqual(b, expected);
  };
  let allowedHosts = new Set<string>();

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const r = e instanceof Refused ? e : new Refused(500, `internal error: ${(e as Error).message}`);
      if (res.headersSent) return res.destroy();
      if (!req.complete) {
        // The client is still sending a body we will not read: answer, then close the connection.
        const socket = req.socket;
        res.setHeader('Connection', 'close');
        res.on('finish', () => socket?.destroy());
      }
      send(res, r.status, { error: r.message });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    securityHeaders(res);
    // A page of another site that makes a browser resolve its name to 127.0.0.1 (DNS rebinding) sends its own Host.
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) throw new Refused(421, 'unexpected Host header');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const staticFile = STATIC[path];
    if (req.method === 'GET' && staticFile) {
      // The page and its scripts hold no case data: they are served without the token, which the page
      // takes from the address's #fragment (never sent to a server) and keeps in this origin's
      // sessionStorage. A cookie would go to every port of 127.0.0.1 (browsers do not isolate cookies
      // by port): one page load of any local listener would have it.
      res.writeHead(200, { 'Content-Type': staticFile.type, 'Cache-Control': 'no-store' });
      res.end(readFileSync(staticFile.file));
      return;
    }
    // Everything else needs the token as `Authorization: Bearer`; not in a cookie, not in the URL (logs, history).
    const bearer = /^bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!tokenOk(bearer)) throw new Refused(401, 'a token is needed: open the address spoor serve printed (it carries #token=…), or send Authorization: Bearer TOKEN');
    let m: RegExpExecArray | null;
    if (path === '/api/cases' && req.method === 'GET') return send(res, 200, store.listCases());
    if (path === '/api/cases' && req.method === 'POST') {
      const body = (await readJson(req)) as { name?: unknown; kind?: unknown; evidencePath?: unknown };
      const name = caseName(body.name);
      const kind: CaseKind = body.kind === 'exchange' ? 'exchange' : 'hunt';
      if (body.evidencePath !== undefined && body.evidencePath !== null && typeof body.evidencePath !== 'string') throw new Refused(400, 'evidencePath: expected a folder path (a string)');
      const evidence = !body.evidencePath ? null : evidenceFolder(body.evidencePath, o.evidenceRoots);
      const c = store.createCase(name, kind, evidence);
      mkdirSync(join(caseDir(c.id), 'uploads'), { recursive: true });
      return send(res, 201, c);
    }
    if ((m = /^\/api\/cases\/(\d+)(\/.*)?$/.exec(path))) {
      const id = Number(m[1]);
      const c = store.getCase(id);
      if (!c) throw new Refused(404, `no case ${id}`);
      const rest = m[2] ?? '';
      if (rest === '' && req.method === 'GET') return send(res, 200, { ...c, files: store.files(id), hosts: store.hosts(id), labels: store.labels(id), ...caseOutcome(caseDir(id)), ...(o.ruleSet ? { ruleSet: o.ruleSet } : {}) });
      if (rest === '/notes' && req.method === 'PUT') {
        const body = (await readJson(req)) as { key?: unknown; note?: unknown; labels?: unknown };
        if (typeof body.key !== 'string' || !body.key || body.key.length > 10_000 || !store.hasDetection(id, body.key)) throw new Refused(400, 'key: expected the key of a detection of this case');
        if (body.note !== undefined && typeof body.note !== 'string') throw new Refused(400, 'note: expected text');
        const note = (body.note ?? '').trim().slice(0, MAX_NOTE);
        if (body.labels !== undefined && (!Array.isArray(body.labels) || body.labels.length > 20 || !body.labels.every((l) => typeof l === 'string' && LABEL.test(l)))) throw new Refused(400, 'labels: at most 20, each 1 to 40 letters, digits, spaces, . _ : -');
        store.annotate(id, body.key, note, [...new Set((body.labels ?? []) as string[])]);
        return send(res, 200, { key: body.key, note, labels: body.labels ?? [] });
      }
      if (rest === '' && req.method === 'PATCH') {
        store.renameCase(id, caseName(((await readJson(req)) as { name?: unknown }).name));
        return send(res, 200, store.getCase(id));
      }
      if (rest === '' && req.method === 'DELETE') {
        if (jobs.isRunning(id) || c.status === 'running') throw new Refused(409, 'a hunt is running on this case: wait for it to end');
        store.deleteCase(id);
        rmSync(caseDir(id), { recursive: true, force: true });
        res.writeHead(204).end();
        return;
      }
      if ((m = /^\/files\/([^/]+)$/.exec(rest)) && req.method === 'PUT') {
        let raw: string;
        try {
          raw = decodeURIComponent(m[1]!);
        } catch {
          throw new Refused(400, 'upload name: not a valid URL component');
        }
        const name = uploadName(raw);
        if (jobs.isRunning(id)) throw new Refused(409, 'a hunt is running on this case');
        const size = await receiveUpload(req, caseDir(id), name, o.maxUpload, o.diskReserve);
        store.addFile(id, name, size);
        return send(res, 201, { name, size });
      }
      if (rest === '/hunt' && req.method === 'POST') {
        const body = (await readJson(req)) as { sectors?: unknown };
        if (jobs.isRunning(id)) throw new Refused(409, 'a hunt is already running on this case');
        if (jobs.runningCount() >= o.maxHunts) throw new Refused(429, `${jobs.runningCount()} hunts are running, the most this server runs at once (spoor serve --max-hunts): start this one when one has finished`);
        const sectors = Array.isArray(body.sectors) ? body.sectors.filter((s): s is string => typeof s === 'string').slice(0, 10) : [];
        if (!c.evidencePath && !store.files(id).length) throw new Refused(400, 'nothing to hunt: upload files or give the case an evidence folder');
        jobs.start(c, sectors);
        return send(res, 202, store.getCase(id));
      }
      if ((rest === '/detections' || rest === '/detections.csv') && req.method === 'GET') {
        const p = url.searchParams;
        const text = (name: string) => p.get(name)?.slice(0, 500) || undefined;
        const query = { level: text('level'), q: text('q'), host: text('host'), label: text('label'), from: text('from'), to: text('to'), sort: text('sort'), desc: p.get('desc') === '1', offset: Number(p.get('offset')) || 0, limit: Number(p.get('limit')) || 100 };
        try {
          if (rest === '/detections') return send(res, 200, store.detections(id, query));
          // The filtered view, every row of it, as the CSV spoor hunt writes.
          const rows = store.allDetections(id, query);
          const first = rows.next();
          res.writeHead(200, { 'Content-Type': 'text/csv; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Disposition': `attachment; filename="case-${id}-detections.csv"` });
          res.write(CSV_HEADER.join(',') + '\n');
          for (let r = first; !r.done; r = rows.next()) {
            if (!res.write(huntRecordCsv(JSON.parse(r.value) as HuntRecord) + '\n')) await new Promise((ok) => res.once('drain', ok));
          }
          res.end();
          return;
        } catch (e) {
          if (e instanceof SearchError) throw new Refused(400, e.message);
          throw e;
        }
      }
      if ((rest === '/summary' || rest === '/attribution') && req.method === 'GET') {
        // Written whole by the import, served as they are (a case of 300,000 detections had its 20 MB report parsed per request).
        const file = join(caseDir(id), rest === '/summary' ? 'summary.json' : 'attribution.json');
        if (existsSync(file)) {
          res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
          createReadStream(file).pipe(res);
          return;
        }
        const old = join(caseDir(id), 'report.json');
        if (!existsSync(old)) throw new Refused(404, 'no report yet: run a hunt');
        // A case an earlier version reported: one file held everything.
        const report = JSON.parse(readFileSync(old, 'utf8')) as Record<string, unknown>;
        if (rest === '/attribution') return send(res, 200, { attribution: report.attribution ?? null, note: report.attributionNote ?? null });
        const { detections: _rows, attribution: _a, ...summary } = report;
        return send(res, 200, summary);
      }
      if ((m = /^\/download\/([a-z]+)$/.exec(rest)) && req.method === 'GET') {
        const d = DOWNLOADS[m[1]!];
        if (!d) throw new Refused(404, `no download ${m[1]}`);
        // The detections are kept gzipped (a tenth of the space) and sent so: clients unpack them as they arrive.
        const gzipped = join(caseDir(id), `${d.file}.gz`);
        const file = existsSync(gzipped) ? gzipped : join(caseDir(id), d.file);
        if (!existsSync(file)) throw new Refused(404, 'no report yet: run a hunt');
        res.writeHead(200, { 'Content-Type': d.type, 'Content-Length': statSync(file).size, 'Content-Disposition': `attachment; filename="case-${id}-${d.file}"`, ...(file === gzipped ? { 'Content-Encoding': 'gzip' } : {}) });
        createReadStream(file).pipe(res);
        return;
      }
    }
    throw new Refused(404, `nothing at ${req.method} ${path}`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  const hostName = o.host.includes(':') ? `[${o.host}]` : o.host;
  allowedHosts = new Set([`${hostName}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`].map((h) => h.toLowerCase()));
  return {
    server,
    url: `http://${hostName}:${port}/`,
    token,
    close: async () => {
      await jobs.stopAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      store.close();
    },
  };
}

/**
 * What a case's last finished hunt left: whether its results are there to show (a later run that was
 * interrupted or failed leaves them in place), and what the hunt said about its input and rules
 * (files skipped, rules not loaded), which the analyst must see beside the results.
 */
function caseOutcome(dir: string): { results: boolean; notes: string[] } {
  const log = join(dir, 'hunt.log');
  const notes = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.trim()).slice(-200) : [];
  return { results: existsSync(join(dir, 'summary.json')) || existsSync(join(dir, 'report.json')), notes };
}

/** A case's name as given: text, trimmed, at most 200 characters. */
function caseName(v: unknown): string {
  const name = typeof v === 'string' ? v.trim().slice(0, 200) : '';
  if (!name) throw new Refused(400, 'name: expected a case name');
  return name;
}

/** Closes a folder tree to group and others (case folders an earlier version made 0755 and 0644). */
function privateTree(dir: string): void {
  const st = lstatSync(dir);
  if (st.mode & 0o077) chmodSync(dir, st.mode & 0o700);
  if (!st.isDirectory()) return;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    // A symbolic link is left alone: its target is not the server's to change.
    if (!lstatSync(p).isSymbolicLink()) privateTree(p);
  }
}

function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new Refused(415, 'expected a JSON body (Content-Type: application/json)');
  // Read by events, not `for await`: leaving that loop early destroys the request, and with it the
  // socket the refusal is written to (the server then crashed on a null socket).
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const got: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_JSON_BODY) return void got.push(chunk);
      req.off('data', onData);
      req.resume();
      reject(new Refused(413, `JSON body over ${MAX_JSON_BODY} bytes`));
    };
    req.on('data', onData);
    req.once('end', () => resolve(got));
    req.once('error', reject);
  });
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new Refused(400, `bad JSON body: ${(e as Error).message}`);
  }
}

/** Where uploads are written until they are whole: a folder of the case that hunts do not read. */
const INCOMING = 'incoming';

/**
 * Streams a request body into the case's upload folder: refused before a byte is written when its
 * declared length is over the limit or would leave the disk nearly full, and cut off (the partial
 * file removed) as soon as an undeclared length passes the limit. The file is written under a name
 * of its own in `incoming/` and moved into `uploads/` whole, so a hunt never reads half a file and
 * two uploads of one name at once each write their own (the last to finish is kept).
 */
async function receiveUpload(req: IncomingMessage, caseFolder: string, name: string, limit: number, reserve: number): Promise<number> {
  const dir = join(caseFolder, 'uploads');
  const incoming = join(caseFolder, INCOMING);
  const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
  const refuse = (r: Refused) => {
    // Answer now and close: the client may still be sending the rest.
    req.resume();
    throw r;
  };
  if (declared !== undefined && declared > limit) refuse(new Refused(413, `upload of ${declared} bytes is over the limit of ${limit} (spoor serve --max-upload)`));
  mkdirSync(dir, { recursive: true });
  mkdirSync(incoming, { recursive: true });
  const freeBytes = () => {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  };
  const full = (free: number) => new Refused(507, `not enough free disk space for this upload (${free} bytes free; spoor serve --disk-reserve keeps ${reserve})`);
  const free = freeBytes();
  if ((declared ?? 0) + reserve > free) refuse(full(free));
  const part = join(incoming, `${randomBytes(8).toString('hex')}.part`);
  const out = createWriteStream(part);
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let checked = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.pause();
          reject(new Refused(413, `upload over the limit of ${limit} bytes (spoor serve --max-upload)`));
          return;
        }
        // A length not declared (chunked) was not checked against the free space before: it is, as it comes.
        if (declared === undefined && size - checked >= DISK_CHECK_BYTES) {
          checked = size;
          const now = freeBytes();
          if (now < reserve) {
            req.pause();
            reject(full(now));
            return;
          }
        }
        if (!out.write(chunk)) {
          req.pause();
          out.once('drain', () => req.resume());
        }
      });
      req.on('end', resolve);
      req.on('error', reject);
      req.on('aborted', () => reject(new Refused(400, 'upload aborted')));
      out.on('error', reject);
    });
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  } catch (e) {
    out.destroy();
    rmSync(part, { force: true });
    throw e;
  }
  renameSync(part, join(dir, name));
  return size;
}
