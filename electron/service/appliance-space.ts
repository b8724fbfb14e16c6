import { lstatSync, readdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

const CACHE_MS = 5000;
let cached: { dir: string; at: number; bytes: number } | undefined;

/** The appliance's filesystem size and free room, and the bytes its own files take (walked at most every 5 s). */
export function applianceSpace(dir: string): { totalBytes: number; freeBytes: number; applianceBytes: number } {
  const s = statfsSync(dir);
  const now = performance.now();
  if (!cached || cached.dir !== dir || now - cached.at > CACHE_MS) cached = { dir, at: now, bytes: bytesUnder(dir) };
  return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize, applianceBytes: cached.bytes };
}

/** Bytes allocated to the files under a directory (sparse files count what they hold). */
function bytesUnder(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (st.isDirectory()) total += bytesUnder(path);
      else if (st.isFile()) total += Math.min(st.size, st.blocks * 512);
    } catch {
      // removed meanwhile (a segment retired by thinning)
    }
  }
  return total;
}
