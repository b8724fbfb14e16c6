import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Test fixtures: temp dirs, image files and real loop devices (always detached by the caller). */

export const sh = (cmd: string, args: string[], input?: string): string =>
  execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

export function tempDir(prefix = 'chronodisk-devices-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function makeImage(path: string, bytes: number): string {
  sh('truncate', ['-s', String(bytes), path]);
  return path;
}

/** A GPT image with partitions at the given [startSector, sizeSectors]. */
export function makePartitionedImage(path: string, bytes: number, parts: [number, number][]): string {
  makeImage(path, bytes);
  const script = ['label: gpt', ...parts.map(([s, n]) => `start=${s},size=${n}`)].join('\n') + '\n';
  sh('sfdisk', ['-q', path], script);
  return path;
}

export interface Loop {
  device: string;
  /** /dev/loopNpK for each partition, in order. */
  partitions: string[];
  detach(): void;
}

/**
 * Attaches a loop device. With `partitions`, the partitions are added with partx: this
 * kernel has no MSDOS/EFI partition parser, so `losetup -P` alone creates none.
 */
export function attachLoop(image: string, opts: { partitions?: number; readOnly?: boolean } = {}): Loop {
  const args = ['-f', '--show'];
  if (opts.partitions) args.push('-P');
  if (opts.readOnly) args.push('-r');
  const device = sh('losetup', [...args, image]).trim();
  const detach = () => {
    try {
      execFileSync('losetup', ['-d', device], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
  const partitions: string[] = [];
  try {
    if (opts.partitions) {
      if (!existsSync(`${device}p1`)) sh('partx', ['-a', device]);
      for (let i = 1; i <= opts.partitions; i++) partitions.push(`${device}p${i}`);
      for (const p of partitions) if (!existsSync(p)) throw new Error(`${p} did not appear`);
    }
  } catch (e) {
    detach();
    throw e;
  }
  return { device, partitions, detach };
}

/** Arguments that let a child `node` run a TypeScript file (jiti, which vite brings). */
export const tsNodeArgs = ['--import', join(dirname(createRequire(import.meta.url).resolve('jiti/package.json')), 'lib/jiti-register.mjs')];
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Unmounts `mnt`, lazily if something still holds it (a test that failed midway may
 * leave a process or a loop on it): a later test run must not find it mounted.
 */
export function unmount(mnt: string): void {
  try {
    execFileSync('umount', [mnt], { stdio: 'ignore' });
  } catch {
    try {
      execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
  }
}

/** A tmpfs of `size` (mount's syntax: "24m") at `mnt`: a small, fast drive that fills up. Undo with unmount(). */
export function mountTmpfs(mnt: string, size: string): void {
  mkdirSync(mnt, { recursive: true });
  sh('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
}

/** Writes `<dir>/filler` until the drive refuses one byte more; returns its path. */
export function fillDrive(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (const chunk of [1024 * 1024, 64 * 1024, 4096, 1]) {
      const buf = Buffer.alloc(chunk, 0xa5);
      try {
        while (writeSync(fd, buf) === chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** A `sizeMiB` ext4 (-m 0: every block usable) on a loop device over `<dir>/appfs.img`, mounted at `mnt`. */
export function mountExt4(dir: string, mnt: string, sizeMiB: number): { loop: Loop; remove(): void } {
  mkdirSync(mnt, { recursive: true });
  makeImage(join(dir, 'appfs.img'), sizeMiB * 1024 * 1024);
  const loop = attachLoop(join(dir, 'appfs.img'));
  try {
    sh('mkfs.ext4', ['-q', '-F', '-m', '0', loop.device]);
    sh('mount', [loop.device, mnt]);
  } catch (e) {
    loop.detach();
    throw e;
  }
  return {
    loop,
    remove: () => {
      unmount(mnt);
      loop.detach();
    },
  };
}
