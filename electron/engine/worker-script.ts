import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The built JavaScript of a worker thread's script `name`, beside the module at
 * `moduleUrl`, or undefined when it is not built. Under vitest the engine runs from its
 * TypeScript sources, which a worker thread cannot load: the script then comes from the
 * mirror of the module's folder in dist/ (`npm test` builds first).
 *
 * In the packaged app the engine sits in an asar archive (…/resources/app.asar/dist/…).
 * The worker keeps its path in the archive, so that its own imports (the rest of the
 * engine, node_modules) resolve beside it there: Electron reads archives in worker
 * threads too, and serves files marked unpacked from app.asar.unpacked. package.json's
 * build.asarUnpack marks every dist/**\/*-worker.js unpacked, so the script is also a
 * real file on disk, which is what is checked when the archive itself cannot be read
 * (plain Node).
 */
export function builtWorkerScript(moduleUrl: string, name: string): URL | undefined {
  const here = fileURLToPath(moduleUrl);
  let script = join(here, '..', name);
  if (here.endsWith('.ts')) {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    script = join(root, 'dist', relative(root, join(here, '..')), name);
  }
  const unpacked = asarUnpackedPath(script);
  return existsSync(script) || (unpacked !== undefined && existsSync(unpacked)) ? pathToFileURL(script) : undefined;
}

/** Where electron-builder puts a file of an asar archive that it unpacks; undefined outside an archive. */
export function asarUnpackedPath(path: string): string | undefined {
  const m = /\.asar(?=[/\\])/.exec(path);
  return m ? `${path.slice(0, m.index)}.asar.unpacked${path.slice(m.index + m[0].length)}` : undefined;
}
