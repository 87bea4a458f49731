/**
 * Hunting figures of the peers that cannot be installed here (Rust and Python tools built from their
 * release tags), measured on this project's machine kind (2 cores) and published in
 * ../shared/peers/README.md and in issue 18; the bench prints Spoor's own beside them.
 */
export interface PeerHunt {
  tool: string;
  corpus: string;
  /** Records in the corpus (EVTX records: the peers read EVTX only). */
  events: number;
  wallSeconds: number;
  peakRssMiB: number;
}

const ATTACK_SAMPLES = 'attack samples (277 files, 38 MB)';

export const PEER_HUNTS: readonly PeerHunt[] = [
  { tool: 'Chainsaw 2.16.4 (2,288 rules)', corpus: ATTACK_SAMPLES, events: 8255, wallSeconds: 4.4, peakRssMiB: 227 },
  { tool: 'Hayabusa 3.10 (4,648 rules)', corpus: ATTACK_SAMPLES, events: 8255, wallSeconds: 8.8, peakRssMiB: 618 },
  { tool: 'Zircolite 3.7 (2,171 rules)', corpus: ATTACK_SAMPLES, events: 8255, wallSeconds: 2.3, peakRssMiB: 89 },
  { tool: 'Chainsaw 2.16.4 (2,288 rules)', corpus: 'two generated 100 MB EVTX files', events: 160_000, wallSeconds: 165, peakRssMiB: 243 },
];
