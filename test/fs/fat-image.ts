import { execFileSync } from 'node:child_process';
import { readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A FAT image filled by mtools; TZ=UTC so the local times FAT stores are UTC. */
export function makeFatImage(img: string, tree: string, bits: 12 | 16 | 32, sizeMiB: number, label: string): void {
  writeFileSync(img, '');
  truncateSync(img, sizeMiB * 1024 * 1024);
  execFileSync('mkfs.vfat', ['-F', String(bits), '-n', label, img], { stdio: 'pipe' });
  const env = { ...process.env, TZ: 'UTC', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', MTOOLS_SKIP_CHECK: '1' };
  execFileSync('mcopy', ['-s', '-m', '-i', img, ...readdirSync(tree).map((n) => join(tree, n)), '::/'], { stdio: ['ignore', 'pipe', 'pipe'], env, timeout: 60_000 });
}
