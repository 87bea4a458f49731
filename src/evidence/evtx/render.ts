import type { EvtxRecord } from './chunk.js';

/** One record as `spoor dump` prints it: an evtx_dump JSON line, or the XML followed by a blank line. */
export function recordText(record: EvtxRecord): string {
  return record.text + '\n';
}
