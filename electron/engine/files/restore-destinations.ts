import { createHash } from 'node:crypto';
import { lstatSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { mountsOf, readMounts, type MountEntry } from '../devices/mounts.js';
import { allWholeDisks, loopBackingFile, partitionsOf } from '../devices/sysfs-block.js';
import { ChronodiskError } from '../errors.js';
import type { DiskRecord } from '../store/catalog-state.js';

/** Where restored files may go: a configured folder, or the files' own folder on the live filesystem. */
export interface RestoreDestinationInfo {
  id: string;
  path: string;
  label: string;
  kind: 'folder' | 'original';
}

export const ORIGINAL_DESTINATION = 'original';

/**
 * The destinations a file restore of a disk's volume may pick: each configured restore
 * folder and, when that volume is the live filesystem mounted on this machine now, its
 * original folder (the mount point; each file goes back to the folder it came from).
 */
export function restoreDestinations(disk: DiskRecord, partition: number | undefined, folders: string[]): RestoreDestinationInfo[] {
  const out: RestoreDestinationInfo[] = folders.map((path) => ({ id: folderId(path), path, label: basename(path) || path, kind: 'folder' }));
  const live = liveMountOf(disk, partition);
  if (live) out.push({ id: ORIGINAL_DESTINATION, path: live, label: `Original folder (${disk.name} is mounted at ${live})`, kind: 'original' });
  return out;
}

/** A stable id for a configured folder (its path hashed), so clients never send the path back. */
export function folderId(path: string): string {
  return `folder-${createHash('sha256').update(path).digest('hex').slice(0, 12)}`;
}

/**
 * The mount point of the disk's volume as it is live now: its source device (or partition
 * N of it, or its only partition), or a loop device over its image file, mounted read-write.
 */
export function liveMountOf(disk: DiskRecord, partition: number | undefined): string | undefined {
  let real: string;
  try {
    real = realpathSync(disk.source);
  } catch {
    return undefined;
  }
  const mounts = readMounts();
  const devices = real.startsWith('/dev/')
    ? [basename(real)]
    : allWholeDisks().filter((n) => n.startsWith('loop') && loopBackingFile(n)?.replace(/ \(deleted\)$/, '') === real);
  for (const name of devices) {
    const parts = partitionsOf(name);
    const wanted = partition !== undefined && partition > 0 ? parts.filter((p) => p.number === partition) : parts.length === 1 ? parts : [];
    const candidates = [...(partition ? [] : [`/dev/${name}`]), ...wanted.map((p) => `/dev/${p.name}`)];
    for (const device of candidates) {
      const m = mountsOf(device, { mounts }).find((x) => x.device === device && wholeReadWrite(mounts, x.mountPoint));
      if (m) return m.mountPoint;
    }
  }
  return undefined;
}

/** A mount of the filesystem's root (not a bind mount of a subtree), read-write: files can go back where they were. */
function wholeReadWrite(mounts: MountEntry[], mountPoint: string): boolean {
  const m = mounts.findLast((x) => x.mountPoint === mountPoint);
  return m !== undefined && m.root === '/' && m.options.split(',').includes('rw');
}

/**
 * The folder on the live filesystem a file of `innerPath` goes back to: below the mount
 * point, refusing a path with `..` and any folder on the way that is a symbolic link (a
 * link could send the privileged service's writes anywhere). Missing folders are created by the restore.
 */
export function originalFolderOf(mountPoint: string, innerPath: string): string {
  const parts = innerPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ChronodiskError('usage', `${innerPath}: ".." is not allowed in a path inside the image`);
  let dir = mountPoint;
  for (const p of parts.slice(0, -1)) {
    dir = join(dir, p);
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      break; // from here down nothing exists: the restore creates real folders
    }
    if (st.isSymbolicLink()) throw new ChronodiskError('refused', `${dir} is a symbolic link on the live filesystem; restore ${innerPath} into a restore folder instead`);
    if (!st.isDirectory()) throw new ChronodiskError('exists', `${dir} is not a folder on the live filesystem; restore ${innerPath} into a restore folder instead`);
  }
  return dir;
}
