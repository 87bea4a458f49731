/**
 * `npm run knowledge [-- --attack BUNDLE.json] [--attack-version 18.1] [--galaxy DIR] [--out FILE]`:
 * builds the knowledge Spoor ships (data/attribution/knowledge.json.gz) from an ATT&CK Enterprise
 * bundle and the MISP galaxy's threat-actor and microsoft-activity-group clusters; by default the
 * copies in ../shared/data. The combined ATT&CK bundle there carries no release number: it is given
 * with --attack-version (the shared data's README names it).
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { factsByGroup } from '../src/attribution/facts.js';
import { EMBEDDED_KNOWLEDGE, GALAXY_FILES, loadGalaxyFiles, withFacts, writeKnowledgeFile } from '../src/attribution/knowledge-store.js';
import { attackVersion, knowledgeFromBundle } from '../src/attribution/knowledge.js';
import { readFileSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const bundle = arg('--attack') ?? join(root, '..', 'shared', 'data', 'attack', 'enterprise-attack.json');
const galaxyDir = arg('--galaxy') ?? join(root, '..', 'shared', 'data', 'cti', 'misp-galaxy');
const out = arg('--out') ?? EMBEDDED_KNOWLEDGE;

const attack = knowledgeFromBundle(JSON.parse(readFileSync(bundle, 'utf8')));
const given = arg('--attack-version');
if (given) attack.version = given.replace(/^v/, '');
if (!attack.version) {
  console.error(`${bundle}: the bundle does not say its ATT&CK release; give it with --attack-version`);
  process.exit(2);
}
const galaxy = loadGalaxyFiles(GALAXY_FILES.map((f) => join(galaxyDir, f)));
writeKnowledgeFile(out, attack, galaxy);

const all = withFacts(attack, galaxy, { attack: 'built', galaxy: 'built' });
const count = (kind: Parameters<typeof factsByGroup>[1]) => factsByGroup(all.facts, kind).size;
console.log(`${out}: ${(statSync(out).size / 1024).toFixed(0)} KiB`);
console.log(`  ATT&CK ${attackVersion(attack)}: ${attack.groups.length} groups, ${attack.campaigns.length} campaigns, ${attack.software.length} software, ${attack.techniques.length} techniques, ${attack.uses.length} uses links`);
console.log(`  ${galaxy.source}: ${galaxy.clusters.length} clusters`);
console.log(`  groups with: CVEs ${count('cve')}, victim sectors ${count('sector')}, victim countries ${count('country')}, infrastructure ${count('infrastructure')}, other names ${count('name')}, Microsoft names ${count('microsoft-name')}, origin ${count('origin')}, sponsor ${count('sponsor')}`);
