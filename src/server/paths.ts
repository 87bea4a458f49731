import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isWithin } from '../common/within.js';

/** A request the server refuses, with the HTTP status to answer and a message that says why. */
export class Refused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}


/**
 * An evidence folder a case may point at: an existing directory whose real path (symbolic links
 * followed) is inside one of the roots the server was started with.
 */
export function evidenceFolder(path: string, roots: readonly string[]): string {
  if (typeof path !== 'string' || !path.trim() || path.includes('\0')) throw new Refused(400, 'evidence path: expected a folder path');
  let real: string;
  try {
    real = realpathSync(resolve(path));
  } catch {
    throw new Refused(400, `evidence path ${path}: no such folder`);
  }
  if (!roots.some((root) => isWithin(root, real))) throw new Refused(403, `evidence path ${path}: outside the folders this server may read (${roots.join(', ')}; see spoor serve --evidence-root)`);
  if (!statSync(real).isDirectory()) throw new Refused(400, `evidence path ${path}: not a folder`);
  return real;
}

/**
 * A plain file name in any script, as logs are named (`Microsoft-Windows-Sysmon%4Operational.evtx`):
 * no folder separators, no control characters, none of the characters Windows refuses (a case
 * folder may be copied there), not hidden, at most 200 characters.
 */
const UPLOAD_NAME = /^[^./\\\p{Cc}<>:"|?*\s][^/\\\p{Cc}<>:"|?*]{0,199}$/u;

/** An uploaded file's name: a plain name, no folders, no way out of the case's upload folder. */
export function uploadName(name: string): string {
  const plain = name.normalize('NFC');
  if (!UPLOAD_NAME.test(plain) || plain.includes('..') || /[ .]$/.test(plain)) throw new Refused(400, `upload name ${JSON.stringify(name.slice(0, 100))}: only a plain file name (no folders, no "..", no control characters or < > : " | ? *, not starting with "." or a space)`);
  return plain;
}
