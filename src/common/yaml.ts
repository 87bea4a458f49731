import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let loaded: typeof Yaml | undefined;

/**
 * The `yaml` library, loaded when first needed: a hunt whose rules and pipeline come from the cache
 * parses no YAML, and loading the library costs ~45 ms of every start. (Node loads the same CommonJS
 * build for `import` and `require`.)
 */
export function yaml(): typeof Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
}
