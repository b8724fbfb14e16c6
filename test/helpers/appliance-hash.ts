import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** sha256 of every truth file of an appliance (segments, catalog, header…): the index and the writer's lock files are caches, left out. */
export function applianceHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!/^(index\.sqlite|writer\.)/.test(name)) h.update(name).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}
