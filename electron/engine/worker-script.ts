import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The built JavaScript of a worker thread's script `name`, beside the module at
 * `moduleUrl`, or undefined when it is not built. Under vitest the engine runs from its
 * TypeScript sources, which a worker thread cannot load: the script then comes from the
 * mirror of the module's folder in dist/ (`npm test` builds first).
 */
export function builtWorkerScript(moduleUrl: string, name: string): URL | undefined {
  const here = fileURLToPath(moduleUrl);
  let script = join(here, '..', name);
  if (here.endsWith('.ts')) {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    script = join(root, 'dist', relative(root, join(here, '..')), name);
  }
  return existsSync(script) ? pathToFileURL(script) : undefined;
}
