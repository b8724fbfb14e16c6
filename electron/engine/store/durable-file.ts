import { closeSync, fsyncSync, openSync } from 'node:fs';

/**
 * fsync of a directory, so that a file created or renamed in it survives power loss.
 * (Data of a new file is not reachable after a crash unless its directory entry is durable.)
 */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
