import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** An exFAT image made by mkfs.exfat and filled through exfat-fuse (the kernel here has no exFAT). */
export function makeExfatImage(img: string, tree: string, sizeMiB: number, label: string): void {
  writeFileSync(img, '');
  truncateSync(img, sizeMiB * 1024 * 1024);
  execFileSync('mkfs.exfat', ['-L', label, img], { stdio: 'pipe' });
  const mnt = `${img}.mnt`;
  mkdirSync(mnt);
  // exfat-fuse wants a block device: give it a loop device over the image.
  const loop = execFileSync('losetup', ['-f', '--show', img]).toString().trim();
  try {
    execFileSync('mount.exfat-fuse', [loop, mnt], { stdio: 'pipe' });
    const names = readdirSync(tree).map((n) => join(tree, n));
    execFileSync('cp', ['-r', '--preserve=timestamps', ...names, mnt], { stdio: 'pipe' });
  } finally {
    const r = spawnSync('umount', [mnt], { stdio: 'pipe' });
    if (r.status !== 0) spawnSync('umount', ['-l', mnt]);
    rmdirSync(mnt);
    execFileSync('losetup', ['-d', loop]);
  }
}
