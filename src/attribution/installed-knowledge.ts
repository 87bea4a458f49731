import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spoorHome } from '../common/home.js';
import { KnowledgeError, type KnowledgeBase, loadKnowledge } from './knowledge.js';
import { GALAXY_FILES, type GalaxyPart, type KnowledgeFile, loadGalaxyFiles, readKnowledgeFile, withFacts } from './knowledge-store.js';

/**
 * The knowledge attribution uses: ATT&CK from --attack, else the copy `spoor update` installed, else
 * the one Spoor ships; the MISP galaxy `spoor update` installed, else the shipped one; with the facts
 * of both and Spoor's curated rows. Throws a KnowledgeError naming the file at fault.
 */
export function knowledgeFor(attack?: string): KnowledgeBase {
  const home = spoorHome();
  const installedAttack = join(home, 'attack', 'enterprise-attack.json');
  const installedGalaxy = GALAXY_FILES.map((f) => join(home, 'cti', f));
  let shipped: KnowledgeFile | undefined;
  const embedded = () => (shipped ??= readKnowledgeFile());
  const [kb, attackOrigin] = attack ? [loadKnowledge(attack), attack] : existsSync(installedAttack) ? [loadKnowledge(installedAttack), `spoor update, ${installedAttack}`] : [embedded().attack, 'shipped with Spoor'];
  let galaxy: GalaxyPart;
  let galaxyOrigin = 'shipped with Spoor';
  if (installedGalaxy.every((f) => existsSync(f))) {
    try {
      galaxy = loadGalaxyFiles(installedGalaxy);
      galaxyOrigin = `spoor update, ${join(home, 'cti')}`;
    } catch (e) {
      throw new KnowledgeError((e as Error).message);
    }
  } else galaxy = embedded().galaxy;
  return withFacts(kb, galaxy, { attack: attackOrigin, galaxy: galaxyOrigin });
}

