/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { readHuntOutput } from '../../src/report/hunt-output.js';
import { stixPattern } from '../../src/report/stix.js';
import { ARTEFACTS, launchChromium, pageErrors } from '../helpers/browser.js';
import { DATA, ROOT, SPOOR } from '../helpers/paths.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const tmp = mkdtempSync(join(tmpdir(), 'spoor-report-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const BUNDLE = `${DATA}/attack/enterprise-attack.json`;
const run = (...args: string[]) => spawnSync(process.execPath, [SPOOR, ...args], { encoding: 'utf8' });
const out = join(tmp, 'out');

/** OASIS's STIX 2.1 JSON schemas, as the stixview package ships them (a test-only dependency). */
function stixValidator(): ValidateFunction {
  const dir = join(dirname(createRequire(import.meta.url).resolve('stixview/package.json')), 'src', 'stix2-schemas');
  const ajv = addFormats(new Ajv({ strict: false, allErrors: true, unicodeRegExp: false }));
  ajv.addFormat('idn-hostname', true);
  for (const sub of readdirSync(dir)) for (const f of readdirSync(join(dir, sub))) ajv.addSchema(JSON.parse(readFileSync(join(dir, sub, f), 'utf8')) as object);
  return ajv.getSchema('http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/common/bundle.json')!;
}

before(() => {
  const server = join(tmp, 'server');
  assert.equal(run('demo', 'generate', server, '--size', '2MB', '--intrusion', 'proxylogon', '--seed', '11').status, 0);
  // The mailboxes reached, beside the detections, where the report reads them.
  const s = run('exchange', 'scan', server, '-f', 'jsonl', '-o', join(tmp, 'scan.jsonl'), '--mail-json', join(tmp, 'mail-access.json'), '--ioc', `${DATA}/ioc/chirp/AA21062A.yaml`, '--no-progress');
  assert.equal(s.status, 0, s.stderr);
  const r = run('report', '-i', join(tmp, 'scan.jsonl'), '-o', out, '--attack', BUNDLE, '--sector', 'higher education', '--title', 'ProxyLogon at EXCH01');
  assert.equal(r.status, 0, r.stderr);
});

test('STIX: the bundle validates against the STIX 2.1 schemas, and a broken one does not', () => {
  const validate = stixValidator();
  const bundle = JSON.parse(readFileSync(join(out, 'stix-bundle.json'), 'utf8')) as { objects: Record<string, unknown>[] };
  assert.ok(validate(bundle), JSON.stringify(validate.errors?.slice(0, 5), null, 1));
  const types = new Set(bundle.objects.map((o) => o.type));
  for (const t of ['identity', 'campaign', 'attack-pattern', 'indicator', 'sighting', 'malware', 'vulnerability', 'intrusion-set', 'relationship', 'report']) assert.ok(types.has(t), `no ${t} in the bundle`);
  // Microsoft attributed the ProxyLogon intrusions to HAFNIUM: the attributed-to relationship of most confidence names it.
  const sets = new Map(bundle.objects.filter((o) => o.type === 'intrusion-set').map((o) => [o.id, o.name]));
  const attributed = bundle.objects.filter((o) => o.relationship_type === 'attributed-to').sort((a, b) => (b.confidence as number) - (a.confidence as number));
  assert.equal(sets.get(attributed[0]!.target_ref as string), 'HAFNIUM');
  // Each mailbox reached is observed data: the mailbox, the address it was read from.
  const truth = JSON.parse(readFileSync(join(tmp, 'server', 'ground-truth.json'), 'utf8')) as { mailAccess: { mailbox: string; first: string; last: string }[] };
  const byId = new Map(bundle.objects.map((o) => [o.id, o]));
  const observed = bundle.objects.filter((o) => o.type === 'observed-data');
  const mailboxOf = (o: Record<string, unknown>) => (o.object_refs as string[]).map((r) => byId.get(r)).find((x) => x?.type === 'email-addr')?.value as string;
  assert.deepEqual(observed.map(mailboxOf).sort(), truth.mailAccess.map((m) => m.mailbox).sort());
  for (const t of truth.mailAccess) {
    const o = observed.find((x) => mailboxOf(x) === t.mailbox)!;
    assert.deepEqual([o.first_observed, o.last_observed], [t.first, t.last], t.mailbox);
    for (const r of o.object_refs as string[]) assert.ok(byId.has(r), `${o.id}: ${r} dangles`);
  }
  const ceo = observed.find((o) => mailboxOf(o) === truth.mailAccess[0]!.mailbox)!;
  assert.ok((ceo.object_refs as string[]).some((r) => byId.get(r)!.value === '5.254.43.18'));
  // Observable ids as STIX 2.1 (2.9) says to make them, checked with Python's uuid5: the STIX namespace, the canonical JSON of the id properties.
  const scos = bundle.objects.filter((o) => o.type === 'email-addr' || o.type === 'ipv4-addr');
  const py = spawnSync('python3', ['-c', 'import sys, json, uuid\nfor t, v in json.load(sys.stdin): print(t + "--" + str(uuid.uuid5(uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"), json.dumps({"value": v}, separators=(",", ":"), ensure_ascii=False))))'], { input: JSON.stringify(scos.map((o) => [o.type, o.value])), encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  assert.deepEqual(py.stdout.trim().split('\n'), scos.map((o) => o.id));
  const cves = bundle.objects.filter((o) => o.type === 'vulnerability').map((o) => o.name);
  for (const cve of ['CVE-2021-26855', 'CVE-2021-27065']) assert.ok(cves.includes(cve), `vulnerabilities: ${cves.join(', ')}`);
  const ids = new Set(bundle.objects.map((o) => o.id));
  for (const o of bundle.objects) for (const k of ['source_ref', 'target_ref', 'sighting_of_ref', 'created_by_ref']) if (o[k]) assert.ok(ids.has(o[k] as string), `${o.id}: ${k} dangles`);
  // The validator can fail: a confidence out of range and a sighting without what it saw.
  const broken = structuredClone(bundle);
  broken.objects.find((o) => o.relationship_type === 'attributed-to')!.confidence = 150;
  assert.equal(validate(broken), false);
  const noRef = structuredClone(bundle);
  delete noRef.objects.find((o) => o.type === 'sighting')!.sighting_of_ref;
  assert.equal(validate(noRef), false);
});

test('STIX patterns of matched indicators: quotes and backslashes escaped, file paths split into name and folder', () => {
  assert.equal(stixPattern({ type: 'ip', value: '104.248.49.97' }), "[ipv4-addr:value = '104.248.49.97']");
  assert.equal(stixPattern({ type: 'sha256', value: 'ab' }), "[file:hashes.'SHA-256' = 'ab']");
  assert.equal(stixPattern({ type: 'filename', value: "it's\\x" }), "[file:name = 'it\\'s\\\\x']");
  assert.equal(stixPattern({ type: 'filepath', value: 'inetpub/wwwroot/aspnet_client/shell.aspx' }), "[file:name = 'shell.aspx' AND file:parent_directory_ref.path = 'inetpub/wwwroot/aspnet_client']");
});

test('Navigator: the layer validates against the layer format 4.5 and scores the techniques the detections showed', () => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'test/fixtures/navigator/layer-4.5.schema.json'), 'utf8')) as object);
  const layer = JSON.parse(readFileSync(join(out, 'navigator-layer.json'), 'utf8')) as { techniques: { techniqueID: string; score: number }[]; versions: { layer: string } };
  assert.ok(validate(layer), JSON.stringify(validate.errors));
  const jsonl = readFileSync(join(tmp, 'scan.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rule: { techniques: string[]; tags: string[] } });
  // Each technique's score is the number of (non-exposure) detections whose rule names it, counted here from the JSONL.
  for (const t of layer.techniques) {
    const n = jsonl.filter((d) => !d.rule.tags.includes('detection.exposure') && d.rule.techniques.includes(t.techniqueID)).length;
    assert.equal(t.score, n, t.techniqueID);
  }
  assert.ok(layer.techniques.some((t) => t.techniqueID === 'T1505.003'));
  assert.equal(validate({ ...layer, versions: { ...layer.versions, layer: '4.4' } }), false);
});

test('HTML: the report opens with no network, draws its charts with no console errors, and its table filters and opens rows', async () => {
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok(!/<(script|link)[^>]+(src|href)=/i.test(html), 'the report loads something from outside itself');
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = pageErrors(page);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${join(out, 'report.html')}`);
    await page.waitForSelector('body[data-ready=true]');
    // Charts drawn: Chart.js holds a chart for each canvas, and the timeline's canvas has painted pixels.
    const charts = await page.evaluate(() => {
      const w = window as unknown as { Chart: { getChart: (c: HTMLCanvasElement) => unknown } };
      const canvases = Array.from(document.querySelectorAll('canvas'));
      const timeline = document.getElementById('timeline-chart') as HTMLCanvasElement;
      const pixels = timeline.getContext('2d')!.getImageData(0, 0, timeline.width, timeline.height).data;
      let painted = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++;
      return { canvases: canvases.length, charts: canvases.filter((c) => w.Chart.getChart(c)).length, painted };
    });
    assert.ok(charts.canvases >= 3 && charts.charts === charts.canvases, JSON.stringify(charts));
    assert.ok(charts.painted > 1000, `timeline canvas nearly blank: ${charts.painted} pixels`);
    const lines = readFileSync(join(tmp, 'scan.jsonl'), 'utf8').trim().split('\n').length;
    assert.equal(await page.locator('table.detections tr.row').count(), lines);
    await page.fill('input[aria-label="filter detections"]', 'lsass');
    const lsass = await page.locator('table.detections tr.row').count();
    assert.ok(lsass >= 1 && lsass < lines, `filter kept ${lsass} of ${lines}`);
    await page.locator('table.detections tr.row').first().click();
    assert.match(await page.locator('table.detections tr.detail:not([hidden]) pre').first().innerText(), /lsass/i);
    assert.equal(await page.locator('table.hypotheses tbody tr').first().locator('td').nth(2).innerText(), 'HAFNIUM (Silk Typhoon)');
    // The leading hypothesis in a sentence, in the summary and beside the ranking, as the terminal says it.
    const headline = JSON.parse(readFileSync(join(out, 'report.html'), 'utf8').match(/<script type="application\/json" id="spoor-data">(.*?)<\/script>/s)![1]!).attribution.headline as string;
    assert.match(headline, /^Leading hypothesis: HAFNIUM \(Silk Typhoon\), G0125/);
    assert.deepEqual(await page.locator('p.headline').allInnerTexts(), [headline, headline]);
    assert.ok(await page.locator('.matrix .cell.seen').count() >= 3);
    // The mailboxes reached, one row each, highest confidence first.
    assert.deepEqual(await page.locator('#mailboxes tbody tr td:first-child').allInnerTexts(), ['user007@corp.example', 'user042@corp.example', 'user113@corp.example']);
    // Sub-techniques seen are listed under their technique, each with as many detections as the hunt's lines tagged with it.
    const detections = readFileSync(join(tmp, 'scan.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rule: { techniques: string[] } });
    const subs = await page.locator('.matrix .cell.sub.seen').evaluateAll((cells) => cells.map((c) => ({ id: c.getAttribute('data-technique')!, title: c.getAttribute('title')!, parent: c.previousElementSibling?.getAttribute('data-technique') })));
    const expectedSubs = new Set(detections.flatMap((d) => d.rule.techniques.filter((t) => t.includes('.'))));
    assert.ok(expectedSubs.has('T1505.003'));
    assert.deepEqual(new Set(subs.map((x) => x.id)), expectedSubs);
    for (const x of subs) {
      assert.equal(Number(/: (\d+) detection/.exec(x.title)![1]), detections.filter((d) => d.rule.techniques.includes(x.id)).length, x.id);
      // Under its parent: the nearest technique cell above it is the parent or a sibling.
      assert.ok(x.parent === x.id.split('.')[0] || x.parent?.startsWith(`${x.id.split('.')[0]}.`), `${x.id} under ${x.parent}`);
    }
    await page.screenshot({ path: join(ARTEFACTS, 'report.png'), fullPage: true });
    assert.deepEqual(errors, []);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file://')), []);
  } finally {
    await browser.close();
  }
});

test('HTML: hostile text in a detection is shown as text, never run', async () => {
  const evil = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">';
  const line = { rule: { id: 'x', title: evil, level: 'high', tags: [], techniques: [] }, timestamp: '2021-03-02T10:00:00Z', file: evil, record_id: 1, computer: evil, channel: 'c', event_id: 1, matched: { f: evil }, event: { e: evil } };
  const input = join(tmp, 'evil-in');
  mkdirSync(input, { recursive: true });
  writeFileSync(join(input, 'evil.jsonl'), `${JSON.stringify(line)}\n`);
  // And in the mail access beside it: a mailbox, an address, a reason, a grant.
  writeFileSync(join(input, 'mail-access.json'), JSON.stringify({ mailboxes: [{ mailbox: evil, first: evil, last: '', confidence: evil, kinds: [evil], protocols: [evil], ips: [evil], apps: [{ x: evil }], identities: [], folders: [evil], exports: [], downloads: [], records: evil, reasons: [evil], sources: [] }], grants: [{ what: evil, app: evil }], downloads: 'x', unnamed_requests: [null], actors: { ips: { [evil]: evil } } }));
  const r = run('report', '-i', join(input, 'evil.jsonl'), '-o', join(tmp, 'evil'), '-f', 'html', '--no-attribute', '--title', evil);
  assert.equal(r.status, 0, r.stderr);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`file://${join(tmp, 'evil', 'report.html')}`);
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    assert.equal(await page.locator('table.detections tr.row td').nth(2).innerText(), evil);
    assert.equal(await page.locator('#mailboxes tbody tr td').first().innerText(), evil);
  } finally {
    await browser.close();
  }
});

test('reading a hunt\'s JSONL: bad lines are named by file and line and skipped, the others read', async () => {
  const file = join(tmp, 'mixed.jsonl');
  // A line of 20 MiB (longer than any detection is read) among good ones, CRLF ends, no final newline.
  const huge = `{"rule":{"title":"${'x'.repeat(20 * 1024 * 1024)}"}}`;
  // Nested past what outputs can walk (JSON.stringify overflowed the stack on it); brackets inside strings do not count.
  const deep = `{"rule":{"title":"deep"},"event":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
  const bracketsInText = `{"rule":{"title":"[{\\"${'['.repeat(5000)}"},"event":{"a":[[1]]}}`;
  writeFileSync(file, ['{"rule":{"title":"a","tags":[],"techniques":[]},"timestamp":"2021-03-02T10:00:00Z"}', 'not json', '{"no":"rule"}', '', huge, '{"rule":{"title":"é"}}\r', '{"rule":{"title":"b"}}', deep, bracketsInText].join('\n'));
  const errors: string[] = [];
  const titles: string[] = [];
  for await (const d of readHuntOutput(file, (m) => errors.push(m))) titles.push(d.rule.title);
  assert.deepEqual(titles, ['a', 'é', 'b', `[{"${'['.repeat(5000)}`]);
  assert.equal(errors.length, 4);
  assert.match(errors[0]!, /mixed\.jsonl:2: not JSON/);
  assert.match(errors[1]!, /mixed\.jsonl:3: not a detection/);
  assert.match(errors[2]!, new RegExp(`mixed\\.jsonl:5: line of ${huge.length} characters left out`));
  assert.match(errors[3]!, /mixed\.jsonl:8: a JSON value nested 5001 levels deep \(at most 1000 are read\)/);
  const r = run('report', '-i', file, '-o', join(tmp, 'mixed'), '--no-attribute');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /mixed\.jsonl:2/);
  assert.equal(run('report', '-i', join(tmp, 'missing.jsonl'), '-o', join(tmp, 'm')).status, 1);
  assert.equal(run('report', '-i', file, '-o', join(tmp, 'm'), '-f', 'pdf').status, 2);
});
