import { spawnSync, type SpawnSyncOptions, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Whether user 65534 can walk down to `path` (every folder on the way lets others through). */
function reachable(path: string): boolean {
  for (let p = path; ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (dirname(p) === p) return true;
  }
}

/**
 * The repository as an unprivileged user can reach it, for tests that run code as uid
 * 65534: the repository itself when every folder above it lets others through, else a
 * world-readable folder under /tmp with each of the repository's entries bind-mounted into
 * it (a clone made in a 0700 `mktemp -d` folder). `path()` maps a path in the repository
 * and leaves others as they are.
 */
export function reachableRepo(): { path(p: string): string; release(): void } {
  if (reachable(repoRoot)) return { path: (p) => p, release: () => {} };
  const root = mkdtempSync(join(tmpdir(), 'chronodisk-repo-'));
  chmodSync(root, 0o755);
  const mounted: string[] = [];
  for (const name of readdirSync(repoRoot)) {
    if (name === '.git') continue;
    const from = join(repoRoot, name);
    const to = join(root, name);
    if (statSync(from).isDirectory()) mkdirSync(to);
    else closeSync(openSync(to, 'w'));
    if (spawnSync('mount', ['--bind', from, to]).status === 0) mounted.push(to);
  }
  return {
    path: (p) => (p.startsWith(repoRoot) ? join(root, relative(repoRoot, p)) : p),
    release: () => {
      for (const m of mounted) spawnSync('umount', ['-l', m]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Runs `command args` as user and group 65534, with no supplementary groups. */
export function spawnUnprivileged(command: string, args: string[], options: SpawnSyncOptions = {}): SpawnSyncReturns<string> {
  return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', command, ...args], { encoding: 'utf8', ...options }) as SpawnSyncReturns<string>;
}
