import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DATA, SPOOR, listFiles } from '../helpers/paths.js';
import { type Served, serve } from '../helpers/serve.js';
import { zipFolder } from '../helpers/zip-folder.js';

const tmp = mkdtempSync(join(tmpdir(), 'spoor-serve-'));
const evidence = join(tmp, 'evidence');
const server = join(evidence, 'exch01');
const home = join(tmp, 'home');
let s: Served;
after(async () => {
  await s?.stop();
  rmSync(tmp, { recursive: true, force: true });
});
before(async () => {
  mkdirSync(evidence, { recursive: true });
  assert.equal(spawnSync(process.execPath, [SPOOR, 'demo', 'generate', server, '--size', '1MB', '--intrusion', 'proxylogon', '--seed', '5']).status, 0);
  s = await serve(home, '--evidence-root', evidence, '--max-upload', '1M', '--attack', `${DATA}/attack/enterprise-attack.json`);
});

const call = async (method: string, path: string, init: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}) => {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? s.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(new URL(path, s.base), { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), redirect: 'manual' });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
};

/** A raw request, for what fetch will not send (a Host of our choosing, a body cut off or endless). */
function raw(method: string, path: string, headers: Record<string, string | number>, body?: (write: (b: Buffer) => boolean, end: () => void, answered: () => boolean) => void): Promise<{ status: number; text: string }> {
  const u = new URL(path, s.base);
  let answered = false;
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method, headers: { authorization: `Bearer ${s.token}`, ...headers } }, (res) => {
      answered = true;
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', (e) => {
      answered = true;
      if (!/EPIPE|ECONNRESET|destroyed/.test(e.message)) reject(e);
    });
    if (body) body((b) => req.write(b), () => req.end(), () => answered);
    else req.end();
  });
}

test('the API needs the token as Authorization: Bearer (none, a wrong one, one in the URL or a cookie is refused); the page and its scripts need none and hold no case data', async () => {
  assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{32}$/);
  await call('POST', '/api/cases', { body: { name: 'secret case name' } });
  for (const path of ['/api/cases', '/api/cases/1', '/api/cases/1/download/html']) {
    assert.equal((await call('GET', path, { token: null })).status, 401, path);
    assert.equal((await call('GET', path, { token: s.token.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')) })).status, 401, path);
    assert.equal((await call('GET', `${path}?token=${s.token}`, { token: null })).status, 401, `${path}?token=`);
    assert.equal((await call('GET', path, { token: null, headers: { cookie: `spoor_token=${s.token}` } })).status, 401, `${path} with a cookie`);
  }
  assert.equal((await call('POST', `/api/cases?token=${s.token}`, { token: null, body: { name: 'x' } })).status, 401);
  assert.equal((await call('GET', '/api/cases', { token: null, headers: { authorization: `bearer ${s.token}` } })).status, 200, 'the scheme in lower case');
  assert.equal((await call('GET', '/api/cases')).status, 200);
  for (const path of ['/', '/static/app.js', '/static/app.css', '/static/render.js']) {
    const r = await call('GET', path, { token: null });
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('set-cookie'), null, path);
    assert.ok(!r.text.includes('secret case name') && !r.text.includes(s.token), path);
  }
  // DNS rebinding: a right token with another site's Host is still refused, and so is the page.
  assert.equal((await raw('GET', '/api/cases', { host: 'evil.example:80' })).status, 421);
  assert.equal((await raw('GET', '/', { host: 'evil.example:80' })).status, 421);
});

test('case paths: only folders under an evidence root, symbolic links followed, traversal refused', async () => {
  mkdirSync(join(evidence, 'inside'), { recursive: true });
  symlinkSync('/etc', join(evidence, 'link-out'));
  const refused = ['/etc', `${evidence}/../..`, `${evidence}/inside/../../`, join(evidence, 'link-out'), `${evidence}/nowhere`, `${evidence}\0/x`, 42];
  for (const p of refused) {
    const r = await call('POST', '/api/cases', { body: { name: 'bad', evidencePath: p } });
    assert.ok(r.status === 403 || r.status === 400, `${String(p)}: ${r.status} ${r.text}`);
  }
  assert.equal(((await call('GET', '/api/cases')).json() as unknown as unknown[]).filter((c) => (c as { name: string }).name === 'bad').length, 0);
  assert.equal((await call('POST', '/api/cases', { body: { name: 'good', evidencePath: join(evidence, 'inside') } })).status, 201);
});

test('uploads: traversal in names refused; over the limit refused (declared or not) and nothing left on disk; under it kept', async () => {
  const c = (await call('POST', '/api/cases', { body: { name: 'uploads' } })).json();
  const id = c.id as number;
  const uploads = join(home, 'cases', String(id), 'uploads');
  // A bare ".." (or %2E%2E) never reaches the handler (URLs are normalised to /api/cases/N/): still refused.
  assert.equal((await raw('PUT', `/api/cases/${id}/files/..`, { 'content-length': 2 }, (w, end) => (w(Buffer.from('hi')), end()))).status, 404);
  for (const name of ['..%2F..%2F..%2Fescaped.txt', '.hidden', 'a%2Fb', 'a%5Cb', 'a%00b', '%2Fetc%2Fpasswd']) {
    const r = await raw('PUT', `/api/cases/${id}/files/${name}`, { 'content-length': 2 }, (w, end) => (w(Buffer.from('hi')), end()));
    assert.equal(r.status, 400, `${name}: ${r.status} ${r.text}`);
  }
  assert.equal(existsSync(join(home, 'escaped.txt')) || existsSync(join(home, 'cases', 'escaped.txt')) || existsSync(join(tmp, 'escaped.txt')), false);

  const declared = await raw('PUT', `/api/cases/${id}/files/big.evtx`, { 'content-length': 2 * 1024 * 1024 }, (w, end) => (w(Buffer.alloc(1024)), setTimeout(end, 50)));
  assert.equal(declared.status, 413);
  // No length declared: the server counts, cuts it off past the limit, and removes what it wrote.
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const streamed = await raw('PUT', `/api/cases/${id}/files/endless.log`, { 'transfer-encoding': 'chunked' }, (w, end, answered) => {
    let sent = 0;
    // Up to 64 MiB, 64 times the limit, unless the server answers first (it should, at 1 MiB).
    const pump = () => {
      while (!answered() && sent < 64 * 1024 * 1024 && w(chunk)) sent += chunk.length;
      if (answered()) return;
      if (sent < 64 * 1024 * 1024) setTimeout(pump, 1);
      else end();
    };
    pump();
  });
  assert.equal(streamed.status, 413);
  assert.deepEqual(readdirSync(uploads), []);

  const ok = await raw('PUT', `/api/cases/${id}/files/small.log`, { 'content-length': 5 }, (w, end) => (w(Buffer.from('hello')), end()));
  assert.equal(ok.status, 201, ok.text);
  assert.deepEqual(readdirSync(uploads), ['small.log']);
  assert.deepEqual(((await call('GET', `/api/cases/${id}`)).json().files as { name: string; size: number }[]).map((f) => [f.name, f.size]), [['small.log', 5]]);
});

test('a killed server restarted loses no committed case, and a hunt it was running is marked interrupted', async () => {
  const c = (await call('POST', '/api/cases', { body: { name: 'survivor', kind: 'exchange', evidencePath: server } })).json();
  assert.equal((await call('POST', `/api/cases/${c.id}/hunt`, { body: { sectors: ['law firms'] } })).status, 202);
  let state: Record<string, unknown> = {};
  for (let i = 0; i < 600 && state.status !== 'done' && state.status !== 'failed'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    state = (await call('GET', `/api/cases/${c.id}`)).json();
  }
  assert.equal(state.status, 'done', JSON.stringify(state));
  const before = (await call('GET', `/api/cases/${c.id}/detections?limit=1000`)).json();
  assert.ok((before.total as number) > 0);
  const cases = (await call('GET', '/api/cases')).json() as unknown as { id: number; name: string }[];
  // One more hunt, and the server killed while it runs.
  const second = (await call('POST', '/api/cases', { body: { name: 'cut short', kind: 'exchange', evidencePath: server } })).json();
  await call('POST', `/api/cases/${second.id}/hunt`, { body: {} });
  s.child.kill('SIGKILL');
  await new Promise((r) => s.child.once('exit', r));
  s = await serve(home, '--evidence-root', evidence, '--max-upload', '1M', '--attack', `${DATA}/attack/enterprise-attack.json`);
  const again = (await call('GET', '/api/cases')).json() as unknown as { id: number; name: string; status: string }[];
  assert.deepEqual(again.filter((x) => x.id !== second.id).map((x) => [x.id, x.name]), cases.map((x) => [x.id, x.name]));
  const after = (await call('GET', `/api/cases/${c.id}/detections?limit=1000`)).json();
  assert.deepEqual(after, before);
  assert.equal((await call('GET', `/api/cases/${c.id}/download/stix`)).status, 200);
  assert.equal(again.find((x) => x.id === second.id)?.status, 'interrupted');
});

test('bad requests get clear errors: unknown case, bad JSON, no evidence to hunt', async () => {
  assert.equal((await call('GET', '/api/cases/9999')).status, 404);
  const bad = await raw('POST', '/api/cases', { 'content-type': 'application/json', 'content-length': 5 }, (w, end) => (w(Buffer.from('{nope')), end()));
  assert.equal(bad.status, 400);
  assert.match(bad.text, /bad JSON/);
  const c = (await call('POST', '/api/cases', { body: { name: 'empty' } })).json();
  const r = await call('POST', `/api/cases/${c.id}/hunt`, { body: {} });
  assert.equal(r.status, 400);
  assert.match(r.text, /nothing to hunt/);
});

test('a JSON body over 64 KiB is refused with 413 and the server goes on serving (it used to crash)', async () => {
  const c = (await call('POST', '/api/cases', { body: { name: 'big bodies' } })).json();
  const big = { name: 'x', padding: 'y'.repeat(100 * 1024) };
  for (const path of ['/api/cases', `/api/cases/${c.id}/hunt`]) {
    const r = await call('POST', path, { body: big }).catch((e: unknown) => ({ status: 0, text: String(e) }));
    assert.equal(r.status, 413, `${path}: ${r.text}`);
    assert.equal((await call('GET', '/api/cases')).status, 200, `after ${path}`);
  }
  assert.equal(s.child.exitCode, null);
});

test('case data is private to its user: every folder and file the server made (store, uploads, detections, reports) is closed to group and others', async () => {
  const c = (await call('POST', '/api/cases', { body: { name: 'private', kind: 'exchange', evidencePath: server } })).json();
  assert.equal((await raw('PUT', `/api/cases/${c.id}/files/notes.log`, { 'content-length': 5 }, (w, end) => (w(Buffer.from('hello')), end()))).status, 201);
  assert.equal((await call('POST', `/api/cases/${c.id}/hunt`, { body: {} })).status, 202);
  for (let i = 0; i < 600 && (await call('GET', `/api/cases/${c.id}`)).json().status === 'running'; i++) await new Promise((r) => setTimeout(r, 100));
  const open: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.mode & 0o077) open.push(`${p.slice(home.length)} ${(st.mode & 0o777).toString(8)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(home);
  assert.ok(readdirSync(join(home, 'cases', String(c.id))).includes('summary.json'), 'the hunt wrote its report');
  assert.deepEqual(open, []);
  // A home an earlier version left open is closed when the server starts.
  const old = join(tmp, 'old-home');
  mkdirSync(join(old, 'cases', '1', 'uploads'), { recursive: true, mode: 0o755 });
  writeFileSync(join(old, 'cases', '1', 'uploads', 'lsass.dmp'), 'x', { mode: 0o644 });
  chmodSync(join(old, 'cases'), 0o755);
  const again = await serve(old, '--evidence-root', evidence);
  try {
    const before = open.length;
    walk(old);
    assert.deepEqual(open.slice(before), []);
  } finally {
    await again.stop();
  }
});

test('an upload is never hunted half-written: nothing appears in the case\'s uploads until it is whole, and what a killed server was receiving is gone after a restart', async () => {
  const c = (await call('POST', '/api/cases', { body: { name: 'slow upload' } })).json();
  const caseFolder = join(home, 'cases', String(c.id));
  const uploads = join(caseFolder, 'uploads');
  const listed = () => (existsSync(uploads) ? readdirSync(uploads) : []);
  let finish = () => {};
  const slow = raw('PUT', `/api/cases/${c.id}/files/slow.log`, { 'transfer-encoding': 'chunked' }, (w, end) => {
    w(Buffer.alloc(4096, 'a'));
    finish = end;
  });
  await new Promise((r) => setTimeout(r, 300));
  // A hunt now reads the uploads folder: the file being received is not in it.
  assert.deepEqual(listed(), []);
  finish();
  assert.equal((await slow).status, 201);
  assert.deepEqual(listed(), ['slow.log']);
  // Cut off by a killed server: after the restart nothing of it is left in the case.
  void raw('PUT', `/api/cases/${c.id}/files/cut.log`, { 'transfer-encoding': 'chunked' }, (w) => void w(Buffer.alloc(4096, 'b'))).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  s.child.kill('SIGKILL');
  await new Promise((r) => s.child.once('exit', r));
  s = await serve(home, '--evidence-root', evidence, '--max-upload', '1M', '--attack', `${DATA}/attack/enterprise-attack.json`);
  const left: string[] = [];
  const walk = (d: string) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(join(d, e.name)) : left.push(join(d, e.name).slice(caseFolder.length))));
  walk(caseFolder);
  assert.deepEqual(left, ['/uploads/slow.log']);
});

test('requests of the wrong shape are refused with 400, not a server error: an object or a list as evidencePath', async () => {
  for (const evidencePath of [{ toString: 1 }, [server], 7, true]) {
    const r = await call('POST', '/api/cases', { body: { name: 'shape', evidencePath } });
    assert.equal(r.status, 400, `${JSON.stringify(evidencePath)}: ${r.status} ${r.text}`);
  }
});

test('uploads keep the names logs have (%, any script); one name refused does not change the others', async () => {
  const c = (await call('POST', '/api/cases', { body: { name: 'names' } })).json();
  const put = (name: string) => raw('PUT', `/api/cases/${c.id}/files/${encodeURIComponent(name)}`, { 'content-length': 2 }, (w, end) => (w(Buffer.from('hi')), end()));
  for (const name of ['Microsoft-Windows-Sysmon%4Operational.evtx', 'Журнал событий.evtx', 'ログ (1).log', 'MSExchange Management.evtx']) assert.equal((await put(name)).status, 201, name);
  for (const name of ['a:b.log', 'x|y', 'name.', ' lead', 'tab\there', 'new\nline', 'q?.log']) assert.equal((await put(name)).status, 400, JSON.stringify(name));
  assert.deepEqual(readdirSync(join(home, 'cases', String(c.id), 'uploads')).sort(), ['MSExchange Management.evtx', 'Microsoft-Windows-Sysmon%4Operational.evtx', 'ログ (1).log', 'Журнал событий.evtx'].sort());
});


const waitWhileRunning = async (id: unknown) => {
  let c: Record<string, unknown> = {};
  for (let i = 0; i < 600; i++) {
    c = (await call('GET', `/api/cases/${id}`)).json();
    if (c.status !== 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return c;
};

test('hunts: at most --max-hunts at once (429 after); one killed by a signal says so; a failed re-run leaves the last results and what that hunt said about its input', async () => {
  const ids = [];
  for (const name of ['one', 'two', 'three']) ids.push((await call('POST', '/api/cases', { body: { name, kind: 'exchange', evidencePath: server } })).json().id);
  assert.equal((await call('POST', `/api/cases/${ids[0]}/hunt`, { body: {} })).status, 202);
  assert.equal((await call('POST', `/api/cases/${ids[1]}/hunt`, { body: {} })).status, 202);
  const third = await call('POST', `/api/cases/${ids[2]}/hunt`, { body: {} });
  assert.equal(third.status, 429, third.text);
  assert.match(third.text, /--max-hunts/);
  const first = await waitWhileRunning(ids[0]);
  await waitWhileRunning(ids[1]);
  assert.equal(first.status, 'done');
  assert.equal(first.results, true);
  // What the hunt said about its rules (this server has no SigmaHQ rules installed) is in the case.
  assert.ok((first.notes as string[]).some((n) => /run spoor update for SigmaHQ's/.test(n)), JSON.stringify(first.notes));
  // A re-run killed by a signal: the case says how it ended, and keeps the last results and notes.
  assert.equal((await call('POST', `/api/cases/${ids[0]}/hunt`, { body: {} })).status, 202);
  await s.killHunts();
  const after = await waitWhileRunning(ids[0]);
  assert.equal(after.status, 'failed');
  assert.match(String(after.message), /stopped by SIGKILL/);
  assert.doesNotMatch(String(after.message), /null/);
  assert.equal(after.results, true);
  assert.deepEqual(after.notes, first.notes);
  assert.equal((await call('GET', `/api/cases/${ids[0]}/detections?limit=5`)).json().total, first.detections);
});

test('a zipped Exchange collection uploaded to an exchange case gets the Exchange checks of the same folder given as evidence (web shells, dumps, archives, the build)', async () => {
  const zip = zipFolder(server, 'exch01/');
  const byFolder = (await call('POST', '/api/cases', { body: { name: 'folder', kind: 'exchange', evidencePath: server } })).json();
  const byZip = (await call('POST', '/api/cases', { body: { name: 'zip', kind: 'exchange' } })).json();
  const up = await raw('PUT', `/api/cases/${byZip.id}/files/exch01.zip`, { 'content-length': zip.length }, (w, end) => (w(zip), end()));
  assert.equal(up.status, 201, up.text);
  const rules = async (id: unknown) => {
    assert.equal((await call('POST', `/api/cases/${id}/hunt`, { body: {} })).status, 202);
    const c = await waitWhileRunning(id);
    assert.equal(c.status, 'done', JSON.stringify(c));
    const rows = (await call('GET', `/api/cases/${id}/detections?limit=1000`)).json().rows as { rule: { id: string } }[];
    return rows.map((d) => d.rule.id).sort();
  };
  const folder = await rules(byFolder.id);
  const zipped = await rules(byZip.id);
  for (const check of ['spoor-exchange-exposure', 'spoor-exchange-web-page', 'spoor-exchange-lsass-dump']) assert.ok(folder.includes(check), `${check} by folder`);
  assert.deepEqual(zipped, folder);
});

test('the detections filter searches whole events: the attacker\'s address, whoami, "net group", CommandLine:whoami', async () => {
  const c = (await call('POST', '/api/cases', { body: { name: 'search', kind: 'exchange', evidencePath: server } })).json();
  assert.equal((await call('POST', `/api/cases/${c.id}/hunt`, { body: {} })).status, 202);
  assert.equal((await waitWhileRunning(c.id)).status, 'done');
  const all = (await call('GET', `/api/cases/${c.id}/detections?limit=1000`)).json().rows as unknown[];
  for (const [q, text] of [['5.254.43.18', '5.254.43.18'], ['whoami', 'whoami'], ['"net group"', 'net group'], ['CommandLine:whoami', 'whoami']] as const) {
    const r = (await call('GET', `/api/cases/${c.id}/detections?limit=1000&q=${encodeURIComponent(q)}`)).json();
    const holding = all.filter((d) => JSON.stringify(d).toLowerCase().includes(text));
    assert.ok(holding.length > 0 && (r.total as number) > 0, `${q}: ${r.total}`);
    assert.ok((r.total as number) <= holding.length, `${q}: ${r.total} found, ${holding.length} hold it`);
  }
  const bad = await call('GET', `/api/cases/${c.id}/detections?q=${encodeURIComponent('!!:x')}`);
  assert.equal(bad.status, 400);
  // One machine, one host: IIS logs name it EXCH01, its event logs EXCH01.corp.example.
  const logged = new Set((all as { computer: string }[]).map((d) => d.computer));
  assert.ok(logged.has('EXCH01') && logged.has('EXCH01.corp.example'), [...logged].join(', '));
  const hosts = (await call('GET', `/api/cases/${c.id}`)).json().hosts as { host: string; n: number }[];
  assert.deepEqual(hosts.filter((h) => /exch01/i.test(h.host)).map((h) => h.host), ['EXCH01.corp.example']);
  const machine = (all as { computer: string }[]).filter((d) => /^exch01(\.|$)/i.test(d.computer)).length;
  assert.equal(hosts.find((h) => h.host === 'EXCH01.corp.example')!.n, machine);
  assert.equal((await call('GET', `/api/cases/${c.id}/detections?host=EXCH01.corp.example`)).json().total, machine);
  // The detections as the hunt wrote them, kept gzipped and sent so (fetch unpacks them).
  const dir = join(home, 'cases', String(c.id));
  assert.ok(existsSync(join(dir, 'detections.jsonl.gz')) && !existsSync(join(dir, 'detections.jsonl')));
  const jsonl = await call('GET', `/api/cases/${c.id}/download/jsonl`);
  assert.equal(jsonl.headers.get('content-encoding'), 'gzip');
  assert.equal(jsonl.text.trim().split('\n').length, all.length);
  const summary = (await call('GET', `/api/cases/${c.id}/summary`)).json() as { summary: { hosts: { name: string }[] } };
  assert.deepEqual(summary.summary.hosts.map((h) => h.name).filter((n) => /exch01/i.test(n)), ['EXCH01.corp.example']);
});

test('a symbolic link inside an evidence folder is not followed out of the evidence roots: the hunt names it and reads nothing there', async () => {
  const outside = join(tmp, 'outside');
  mkdirSync(outside, { recursive: true });
  copyFileSync(listFiles(`${DATA}/evtx/attack-samples/Credential Access`, '.evtx')[0]!, join(outside, 'secret.evtx'));
  const folder = join(evidence, 'with-link');
  mkdirSync(folder, { recursive: true });
  symlinkSync(outside, join(folder, 'outside'));
  writeFileSync(join(folder, 'empty.log'), '');
  const c = (await call('POST', '/api/cases', { body: { name: 'link out', evidencePath: folder } })).json();
  assert.equal((await call('POST', `/api/cases/${c.id}/hunt`, { body: {} })).status, 202);
  const done = await waitWhileRunning(c.id);
  const notes = done.notes as string[];
  const events = (said: string) => Number(/(\d+) events, \d+ detections/.exec(said)?.[1]);
  assert.ok(notes.some((n) => n.includes('a symbolic link out of the folders allowed')), JSON.stringify(notes));
  assert.equal(events(notes.join('\n')), 0, JSON.stringify(notes));
  // The same folder hunted at the command line without --within reads the file behind the link: the link is what the server refused.
  const plain = spawnSync(process.execPath, [SPOOR, 'hunt', folder, '-f', 'jsonl', '--no-progress'], { encoding: 'utf8' });
  assert.ok(events(plain.stderr) > 0, plain.stderr);
});

test('an upload of undeclared length stops when it would leave less than --disk-reserve free, and leaves nothing', async () => {
  const home2 = join(tmp, 'reserve-home');
  mkdirSync(home2);
  const fs = statfsSync(home2);
  // A reserve 8 MiB under what is free now: a 64 MiB upload must be cut off on the way.
  const reserve = fs.bavail * fs.bsize - 8 * 1024 * 1024;
  const small = await serve(home2, '--evidence-root', evidence, '--disk-reserve', String(reserve));
  try {
    const r0 = await fetch(new URL('/api/cases', small.base), { method: 'POST', headers: { authorization: `Bearer ${small.token}`, 'content-type': 'application/json' }, body: '{"name":"full"}' });
    const id = ((await r0.json()) as { id: number }).id;
    const u = new URL(`/api/cases/${id}/files/big.log`, small.base);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', headers: { authorization: `Bearer ${small.token}`, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', (e) => (/EPIPE|ECONNRESET/.test(e.message) ? undefined : reject(e)));
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (sent < 64 && req.write(chunk)) sent++;
        if (sent < 64) req.once('drain', pump);
        else req.end();
      };
      pump();
    });
    assert.equal(status, 507);
    const left: string[] = [];
    const walk = (d: string) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(join(d, e.name)) : left.push(e.name)));
    walk(join(home2, 'cases', String(id)));
    assert.deepEqual(left, []);
  } finally {
    await small.stop();
  }
});

test('two uploads of one name at once: the file kept is one of them whole, and its recorded size is its own', async () => {
  const c = (await call('POST', '/api/cases', { body: { name: 'same name' } })).json();
  const a = Buffer.alloc(300 * 1024, 'a');
  const b = Buffer.alloc(200 * 1024, 'b');
  const put = (body: Buffer) => raw('PUT', `/api/cases/${c.id}/files/twice.log`, { 'content-length': body.length }, (w, end) => {
    // Half now, half a moment later, so that the two are received at once.
    w(body.subarray(0, body.length / 2));
    setTimeout(() => (w(body.subarray(body.length / 2)), end()), 100);
  });
  const [ra, rb] = await Promise.all([put(a), put(b)]);
  assert.equal(ra.status, 201);
  assert.equal(rb.status, 201);
  const kept = readFileSync(join(home, 'cases', String(c.id), 'uploads', 'twice.log'));
  assert.ok(kept.equals(a) || kept.equals(b), `kept ${kept.length} bytes`);
  const files = (await call('GET', `/api/cases/${c.id}`)).json().files as { name: string; size: number }[];
  assert.deepEqual(files.map((f) => [f.name, f.size]), [['twice.log', kept.length]]);
});

test('notes and labels on detections: kept with the detection through a new hunt of the case, filtered by, and checked', async () => {
  const c = (await call('POST', '/api/cases', { body: { name: 'notes', kind: 'exchange', evidencePath: server } })).json();
  const hunt = async () => {
    assert.equal((await call('POST', `/api/cases/${c.id}/hunt`, { body: {} })).status, 202);
    assert.equal((await waitWhileRunning(c.id)).status, 'done');
  };
  await hunt();
  type Row = { key: string; note: string; labels: string[]; rule: { title: string } };
  const rows = (await call('GET', `/api/cases/${c.id}/detections?limit=1000`)).json().rows as Row[];
  const [a, b] = [rows[0]!, rows[rows.length - 1]!];
  assert.deepEqual([a.note, a.labels], ['', []]);
  const put = (body: unknown) => call('PUT', `/api/cases/${c.id}/notes`, { body });
  assert.equal((await put({ key: a.key, note: 'the first request from the VPS', labels: ['confirmed', 'initial access'] })).status, 200);
  assert.equal((await put({ key: b.key, labels: ['confirmed'] })).status, 200);
  for (const bad of [{ key: 'no such detection', note: 'x' }, { key: a.key, labels: ['<script>'] }, { key: a.key, labels: 'confirmed' }, { key: a.key, note: 7 }, { key: a.key, labels: Array.from({ length: 21 }, (_, i) => `l${i}`) }]) {
    assert.equal((await put(bad)).status, 400, JSON.stringify(bad).slice(0, 80));
  }
  // A hunt run again makes the detections anew: the notes stay with the same detections.
  await hunt();
  const again = (await call('GET', `/api/cases/${c.id}/detections?limit=1000`)).json().rows as Row[];
  assert.deepEqual(again.filter((d) => d.note || d.labels.length).map((d) => [d.key, d.note, d.labels]), [[a.key, 'the first request from the VPS', ['confirmed', 'initial access']], [b.key, '', ['confirmed']]]);
  const confirmed = (await call('GET', `/api/cases/${c.id}/detections?label=confirmed`)).json();
  assert.equal(confirmed.total, 2);
  assert.equal((await call('GET', `/api/cases/${c.id}/detections?label=${encodeURIComponent('initial access')}`)).json().total, 1);
  assert.deepEqual((await call('GET', `/api/cases/${c.id}`)).json().labels, [{ label: 'confirmed', n: 2 }, { label: 'initial access', n: 1 }]);
  // Both emptied: the note is gone.
  await put({ key: b.key, note: '', labels: [] });
  assert.equal((await call('GET', `/api/cases/${c.id}/detections?label=confirmed`)).json().total, 1);
});
