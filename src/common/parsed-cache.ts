import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { threadId } from 'node:worker_threads';
import { spoorHome } from './home.js';

/**
 * A document parsed from a text (a YAML pipeline), kept between runs as JSON under the text's digest:
 * the `yaml` library takes 50–100 ms for a 20 KB pipeline, JSON a fraction of a millisecond. Only a
 * document JSON holds exactly is kept (YAML's `.inf` would come back as null), so a read-back document
 * is always the one parsing would give; callers check it as they check a parsed one. `SPOOR_NO_CACHE=1`
 * turns it off.
 */
export function parsedOnce(kind: string, text: string, parse: (text: string) => unknown): unknown {
  if (process.env.SPOOR_NO_CACHE) return parse(text);
  const file = join(spoorHome(), 'cache', kind, `${createHash('sha256').update(text).digest('hex')}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // Not kept yet, or unreadable: parse.
  }
  const doc = parse(text);
  try {
    const json = JSON.stringify(doc);
    if (json !== undefined && isDeepStrictEqual(JSON.parse(json), doc)) {
      mkdirSync(join(spoorHome(), 'cache', kind), { recursive: true });
      const tmp = `${file}.${process.pid}.${threadId}.tmp`;
      writeFileSync(tmp, json);
      renameSync(tmp, file);
    }
  } catch {
    // A read-only home: parse every time.
  }
  return doc;
}
