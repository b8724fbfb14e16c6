import { statfsSync } from 'node:fs';

/** Free bytes on the filesystem holding `dir` (for an unprivileged writer: what it may use). */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}
