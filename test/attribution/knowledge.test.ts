import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { knowledgeFromBundle, KnowledgeError, KnowledgeIndex, loadKnowledge } from '../../src/attribution/knowledge.js';
import { DATA } from '../helpers/paths.js';

const BUNDLE = `${DATA}/attack/enterprise-attack.json`;
const tmp = mkdtempSync(join(tmpdir(), 'spoor-kb-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('ATT&CK knowledge: as many live groups, campaigns, software and techniques as the bundle holds; revoked and deprecated ones left out', () => {
  const doc = JSON.parse(readFileSync(BUNDLE, 'utf8')) as { objects: { type: string; revoked?: boolean; x_mitre_deprecated?: boolean; relationship_type?: string }[] };
  const live = (type: string) => doc.objects.filter((o) => o.type === type && !o.revoked && !o.x_mitre_deprecated).length;
  const kb = knowledgeFromBundle(doc);
  assert.equal(kb.groups.length, live('intrusion-set'));
  assert.equal(kb.campaigns.length, live('campaign'));
  assert.equal(kb.software.length, live('malware') + live('tool'));
  assert.equal(kb.techniques.length, live('attack-pattern'));
  assert.equal(kb.attributedTo.length, doc.objects.filter((o) => o.relationship_type === 'attributed-to').length);
  // APT34 (G0057) was revoked into OilRig: not a group of its own any more.
  const ix = new KnowledgeIndex(kb);
  assert.deepEqual(ix.find('G0057'), []);
  assert.deepEqual(ix.find('OilRig').map((e) => e.id), ['G0049']);
});

test('ATT&CK knowledge: HAFNIUM by its aliases, China Chopper, the techniques and the citations of its links; campaigns attributed to groups', () => {
  const ix = new KnowledgeIndex(knowledgeFromBundle(JSON.parse(readFileSync(BUNDLE, 'utf8'))));
  for (const alias of ['HAFNIUM', 'silk typhoon', 'Operation Exchange Marauder', 'G0125']) assert.deepEqual(ix.find(alias), [{ kind: 'group', id: 'G0125', name: 'HAFNIUM' }], alias);
  assert.deepEqual(ix.find('China Chopper'), [{ kind: 'software', id: 'S0020', name: 'China Chopper' }]);
  const uses = ix.usesOf('G0125');
  const chopper = uses.find((u) => u.target === 'S0020')!;
  assert.ok(chopper.citations.includes('Volexity Exchange Marauder March 2021'), chopper.citations.join(', '));
  assert.ok(uses.some((u) => u.target === 'T1190'), 'HAFNIUM exploited public-facing applications');
  assert.ok(ix.kb.techniques.find((t) => t.id === 'T1505.003')?.tactics.includes('persistence'));
  const attributed = (c: string) => ix.kb.attributedTo.filter((a) => a.source === c).map((a) => a.target).sort();
  assert.deepEqual(attributed('C0024'), ['G0016'], 'SolarWinds Compromise: APT29');
  assert.deepEqual(attributed('C0052'), ['G0004', 'G1023'], 'SPACEHOP Activity: APT5 and Ke3chang');
});

test('ATT&CK knowledge: the index is cached by the bundle digest and reads back the same; bad bundles are refused by name', () => {
  process.env.SPOOR_HOME = join(tmp, 'home');
  const first = loadKnowledge(BUNDLE);
  const again = loadKnowledge(BUNDLE);
  assert.deepEqual(again, first);
  const notBundle = join(tmp, 'x.json');
  writeFileSync(notBundle, '{"type":"report"}');
  assert.throws(() => loadKnowledge(notBundle), (e: Error) => e instanceof KnowledgeError && e.message.startsWith(notBundle) && /not a STIX bundle/.test(e.message));
  const cut = join(tmp, 'cut.json');
  writeFileSync(cut, readFileSync(BUNDLE).subarray(0, 100_000));
  assert.throws(() => loadKnowledge(cut), (e: Error) => e instanceof KnowledgeError && /not JSON/.test(e.message));
  const small = join(tmp, 'small.json');
  writeFileSync(small, JSON.stringify({ type: 'bundle', objects: [{ type: 'intrusion-set', id: 'intrusion-set--1', name: 'x', external_references: [{ source_name: 'mitre-attack', external_id: 'G9999' }] }] }));
  assert.throws(() => loadKnowledge(small), /not ATT&CK Enterprise/);
});

test('curated CVE exploitation: every row has a source, and every ATT&CK id names a group whose name or aliases are the actor the report names', async () => {
  const { loadCveExploitation } = await import('../../src/attribution/curated.js');
  const rows = loadCveExploitation();
  const ix = new KnowledgeIndex(knowledgeFromBundle(JSON.parse(readFileSync(BUNDLE, 'utf8'))));
  for (const r of rows) {
    assert.ok(r.source.length > 10, `${r.cve} ${r.actor}: a source`);
    if (!r.attackId) {
      assert.deepEqual(ix.find(r.actor).filter((e) => e.kind === 'group'), [], `${r.actor} has no id here, so ATT&CK must not know it`);
      continue;
    }
    assert.ok(ix.find(r.actor).some((e) => e.kind === 'group' && e.id === r.attackId), `${r.actor} is ${r.attackId} in ATT&CK`);
  }
  // The ProxyLogon wave of March 2021: HAFNIUM and the groups ESET saw within days.
  const proxyLogon = new Set(rows.filter((r) => r.cve === 'CVE-2021-26855').map((r) => r.actor));
  for (const actor of ['HAFNIUM', 'Tick', 'LuckyMouse', 'Winnti Group', 'Tonto Team']) assert.ok(proxyLogon.has(actor), actor);
});
