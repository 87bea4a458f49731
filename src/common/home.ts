import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Spoor's data directory: rules and ATT&CK fetched by `spoor update`, caches. `SPOOR_HOME` overrides
 * the default, `$XDG_DATA_HOME/spoor` or `~/.local/share/spoor`.
 */
export function spoorHome(): string {
  if (process.env.SPOOR_HOME) return process.env.SPOOR_HOME;
  const data = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'spoor');
}
