import { toJson } from '../../common/json.js';
import type { EvtxRecord, RenderMode } from './chunk.js';

/** One record as `spoor dump` prints it: an evtx_dump JSON line, or the XML followed by a blank line. */
export function recordText(record: EvtxRecord, mode: RenderMode): string {
  return mode === 'json' ? toJson(record.event) + '\n' : record.xml + '\n';
}
