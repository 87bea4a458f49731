import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type SampleEvent, writeEvtx } from '../../src/evidence/evtx/writer.js';
import { DATA, ROOT, SPOOR } from '../helpers/paths.js';

/**
 * A lab replay of the public ProxyLogon proof of concept in the shape of OTRF's data set
 * (test/fixtures/proxylogon-otrf, written from the public descriptions its README lists), with a lab
 * server's noise: the monitoring agent's scripts, log-offs, the exploit's own Python connections.
 * The same events are also written as EVTX, as the server's event logs hold them.
 */
const FIXTURE = join(ROOT, 'test/fixtures/proxylogon-otrf/proxylogon_ssrf_rce_poc.json');
const SIGMA = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-dfir', 'rules-compliance'].map((d) => `${DATA}/sigma/${d}`);
const SPOOR_RULES = join(ROOT, 'rules');

const tmp = mkdtempSync(join(tmpdir(), 'spoor-replay-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

type Flat = Record<string, string | number>;
const flat: Flat[] = readFileSync(FIXTURE, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Flat);

/** The fields an exporter adds beside the event's own data: they are System parts in an event log. */
const SYSTEM_KEYS = new Set(['@timestamp', 'Hostname', 'SourceName', 'ProviderGuid', 'Channel', 'Level', 'Keywords', 'EventID', 'Task', 'TimeCreated', 'ExecutionProcessID', 'ExecutionThreadID', 'Message']);

/**
 * An exported event as its event log holds it. Manifest providers (Sysmon, Security) have named Data;
 * classic ones (MSExchange CmdletLogs, MSExchange Control Panel) unnamed Data: their insertion strings,
 * which the export carries as param1… or only in the rendered message.
 */
function asLogged(e: Flat): SampleEvent {
  const params = Object.keys(e).filter((k) => /^param\d+$/.test(k)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const named = Object.entries(e).filter(([k]) => !SYSTEM_KEYS.has(k) && !/^param\d+$/.test(k)).map(([k, v]) => [k, String(v)] as [string, string]);
  const data: [string, string][] = params.length ? params.map((k) => ['', String(e[k])]) : named.length ? named : [['', String(e.Message ?? '')]];
  return {
    provider: String(e.SourceName),
    providerGuid: String(e.ProviderGuid ?? '{00000000-0000-0000-0000-000000000000}'),
    eventId: Number(e.EventID),
    level: Number(e.Level ?? 4),
    task: Number(e.Task ?? 0),
    keywords: BigInt(String(e.Keywords ?? '0x0')),
    time: Date.parse(String(e['@timestamp'])),
    processId: Number(e.ExecutionProcessID ?? 4),
    threadId: Number(e.ExecutionThreadID ?? 0),
    channel: String(e.Channel),
    computer: String(e.Hostname),
    data,
  };
}

const otrfDir = join(tmp, 'otrf');
const evtxDir = join(tmp, 'evtx');
mkdirSync(otrfDir);
mkdirSync(evtxDir);
writeFileSync(join(otrfDir, 'proxylogon_ssrf_rce_poc.json'), readFileSync(FIXTURE));
// One file per channel, as a server's winevt\Logs folder holds them.
for (const channel of new Set(flat.map((e) => String(e.Channel)))) {
  writeEvtx(join(evtxDir, `${channel.replace(/[/ ]/g, '%4')}.evtx`), flat.filter((e) => e.Channel === channel).map(asLogged));
}

interface Hit {
  rule: { id: string; title: string; level: string; file: string };
  channel: string;
  event_id: string;
  event: { Event: { EventData?: Record<string, unknown> } };
}

function hunt(dir: string): Hit[] {
  const r = spawnSync(process.execPath, [SPOOR, 'hunt', dir, '--format', 'jsonl', '--rules', ...SIGMA, SPOOR_RULES], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(`${dir}.jsonl`, r.stdout);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Hit);
}

interface Ranked {
  headline: string;
  unknownLeads: boolean;
  candidates: { id: string; name: string; microsoftName?: string; probability: number; supporting: { kind: string; value: string }[] }[];
  unknown: { probability: number };
  knowledge: { sources: string[] };
}

/** `spoor attribute` on the hunt's JSONL, with the knowledge Spoor ships (the test's data directory is empty). */
function attribution(jsonl: string, ...extra: string[]): Ranked {
  const r = spawnSync(process.execPath, [SPOOR, 'attribute', '--input', jsonl, '--format', 'json', '--top', '10', ...extra], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Ranked;
}

const text = (h: Hit) => JSON.stringify(h.event);
const spoorRule = (h: Hit) => h.rule.file.startsWith(SPOOR_RULES);
/** The events the attack left (the noise around them names none of these). */
const ATTACK = /ohyeah|OabVirtualDirectory|whoami|App_Web_/i;

for (const [shape, dir] of [['OTRF JSON lines', otrfDir], ['EVTX', evtxDir]] as const) {
  test(`ProxyLogon replay (${shape}): SigmaHQ's rules and Spoor's flag the OAB shell, the shell written by System, w3wp → cmd; Spoor's rules flag nothing else`, () => {
    const hits = hunt(dir);
    const by = (title: string) => hits.filter((h) => h.rule.title === title);
    // The OAB virtual directory made a China Chopper stub: Spoor's rules, and SigmaHQ's (written from OTRF's own data set).
    const oab = by('Script In An OAB Virtual Directory URL (MSExchange Management)').map((h) => /(Set|New)-OabVirtualDirectory/.exec(text(h))?.[0]).sort();
    assert.deepEqual(oab, ['New-OabVirtualDirectory', 'Set-OabVirtualDirectory']);
    assert.equal(by('China Chopper Stub In An Exchange Virtual Directory Setting').length, 2);
    // SigmaHQ's rule looks for ' -ExternalUrl ' with a space before it: in the event log the parameters are
    // a Data value of their own, starting with -ExternalUrl for Set-, so only the New- event matches there.
    assert.equal(by('ProxyLogon MSExchange OabVirtualDirectory').length, shape === 'EVTX' ? 1 : 2);
    assert.equal(by('Exchange Set OabVirtualDirectory ExternalUrl Property').length, 1);
    // The page written over the admin share, by System (Sysmon 11) and as the share audit saw it (5145).
    const written = by('Script Page Written Into An Exchange Or IIS Web Folder');
    assert.deepEqual(written.map((h) => [h.event.Event.EventData?.Image, h.event.Event.EventData?.TargetFilename]), [['System', 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\ohyeah.aspx']]);
    assert.deepEqual(by('Script Page Written Into An Exchange Web Folder Over An Admin Share').map((h) => h.event_id), ['5145']);
    // The forged ECP request, the page compiled on its first request, and the command it ran.
    assert.equal(by('ECP Request Resetting The OAB Virtual Directory (Application Log)').length, 1);
    assert.equal(by('Page Compiled By An Exchange Application Pool').length, 1);
    assert.deepEqual(by('Command Shell Started By The IIS Worker Process').map((h) => `${h.event_id} ${h.event.Event.EventData?.CommandLine}`).sort(), ['1 cmd /c whoami', '4688 cmd /c whoami']);
    // Spoor's rules fire only on the attack's events; the noise raises SigmaHQ's (Python connections, log-offs, scripts).
    const stray = hits.filter((h) => spoorRule(h) && !ATTACK.test(text(h))).map((h) => `${h.rule.title}: ${text(h).slice(0, 120)}`);
    assert.deepEqual(stray, []);
    assert.ok(hits.filter((h) => !spoorRule(h) && !ATTACK.test(text(h))).length >= 20, 'the noise raises SigmaHQ rules');
    // Reading the OAB directory, or removing it, is not the attack by itself.
    assert.ok(!hits.some((h) => spoorRule(h) && /Get-OabVirtualDirectory|Remove-OabVirtualDirectory/.test(text(h))));

    // Attribution from what the hunt found, noise and all: HAFNIUM first of the known groups, ahead of
    // the other groups reported exploiting ProxyLogon, on the chain's CVEs (named by the rules' texts),
    // its web shell and China Chopper; the log-offs and the monitoring agent's scripts weigh little.
    const a = attribution(`${dir}.jsonl`);
    assert.equal(a.candidates[0]!.id, 'G0125', a.candidates.map((c) => `${c.id} ${c.probability}`).join(', '));
    assert.equal(a.candidates[0]!.microsoftName, 'Silk Typhoon');
    const why = a.candidates[0]!.supporting.map((r) => `${r.kind}:${r.value}`);
    for (const v of ['cve:', 'technique:T1505.003', 'software:S0020']) assert.ok(why.some((w) => w.startsWith(v)), `${v} in ${why.join(', ')}`);
    assert.ok(a.knowledge.sources.every((x) => /shipped with Spoor/.test(x)));
    // Exploit and shell alone fit every group that used the public exploit: with no victim or
    // infrastructure to weigh, an unlisted actor (a lab's operator, here) stays as likely, and the
    // headline says which hypothesis leads. With the victim's sector, HAFNIUM leads outright.
    assert.match(a.headline, a.unknownLeads ? /^Leading hypothesis: an unknown or unlisted group.*HAFNIUM \(Silk Typhoon\), G0125.* ranks first/ : /^Leading hypothesis: HAFNIUM \(Silk Typhoon\)/);
    const withSector = attribution(`${dir}.jsonl`, '--sector', 'law firms');
    assert.equal(withSector.unknownLeads, false, withSector.headline);
    assert.match(withSector.headline, /^Leading hypothesis: HAFNIUM \(Silk Typhoon\), G0125, suspected origin China/);
    assert.ok(withSector.candidates[0]!.probability > withSector.unknown.probability + 0.1, withSector.headline);
  });
}
