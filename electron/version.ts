import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** package.json's version: two levels up from dist/electron/version.js, one from electron/version.ts (tests run the sources). */
function readVersion(): string {
  for (const path of ['../../package.json', '../package.json']) {
    try {
      const pkg = require(path) as { name?: string; version?: string };
      if (pkg.name === 'chronodisk' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return '0.0.0';
}

export const version: string = readVersion();
