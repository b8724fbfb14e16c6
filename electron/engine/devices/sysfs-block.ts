import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Facts about block devices read from /sys/class/block: device numbers, partitions,
 * parents and the whole disks under stacked devices. sysfs needs no udev and no
 * privilege, so everything here works for an unprivileged caller too.
 */

const SYS_BLOCK = '/sys/class/block';

/** A dev_t split into its parts (the kernel's MAJOR/MINOR). */
export interface DevNumber {
  major: number;
  minor: number;
}

export const devKey = (d: DevNumber): string => `${d.major}:${d.minor}`;

export const sameDev = (a: DevNumber | undefined, b: DevNumber | undefined): boolean =>
  a !== undefined && b !== undefined && a.major === b.major && a.minor === b.minor;

/** Decodes a dev_t as glibc's gnu_dev_major/gnu_dev_minor do (stat's rdev or dev). */
export function decodeDev(dev: bigint | number): DevNumber {
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n));
  const minor = Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n));
  return { major, minor };
}

/** The number the tracing filter compares `dev` with: the kernel's internal (major << 20) | minor. */
export const kernelDevNumber = (d: DevNumber): number => d.major * 2 ** 20 + d.minor;

export function parseDevNumber(text: string): DevNumber | undefined {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

export function readSysAttr(dir: string, attr: string): string | undefined {
  try {
    return readFileSync(join(dir, attr), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The sysfs directory of a block device by number, or undefined if the kernel has none. */
export function sysDirOfDev(dev: DevNumber): string | undefined {
  try {
    return realpathSync(`/sys/dev/block/${devKey(dev)}`);
  } catch {
    return undefined;
  }
}

export const sysDirOfName = (name: string): string | undefined => {
  const p = join(SYS_BLOCK, name);
  return existsSync(p) ? realpathSync(p) : undefined;
};

export function devOfName(name: string): DevNumber | undefined {
  const dir = sysDirOfName(name);
  return dir ? parseDevNumber(readSysAttr(dir, 'dev') ?? '') : undefined;
}

export const isPartitionDir = (dir: string): boolean => existsSync(join(dir, 'partition'));

/** The disk a partition belongs to (its sysfs parent), or undefined for a whole disk. */
export function parentDiskOf(name: string): string | undefined {
  const dir = sysDirOfName(name);
  return dir && isPartitionDir(dir) ? basename(dirname(dir)) : undefined;
}

/** Holders of a stacked device (dm, md): the devices it is built on. */
function slavesOf(name: string): string[] {
  const dir = sysDirOfName(name);
  if (!dir) return [];
  try {
    return readdirSync(join(dir, 'slaves'));
  } catch {
    return [];
  }
}

/**
 * The whole disks a device lives on: itself for a disk, its parent for a partition, and
 * for LVM/dm-crypt/md the disks under all its slaves (so "the disk holding /" is right
 * on an encrypted or LVM root too).
 */
export function wholeDisksOf(name: string, seen = new Set<string>()): string[] {
  if (seen.has(name)) return [];
  seen.add(name);
  const parent = parentDiskOf(name);
  if (parent) return wholeDisksOf(parent, seen);
  const slaves = slavesOf(name);
  if (slaves.length === 0) return [name];
  return [...new Set(slaves.flatMap((s) => wholeDisksOf(s, seen)))];
}

/**
 * Devices stacked on a disk or any of its partitions (dm-0 for LVM or dm-crypt, md0 for
 * RAID): a disk with holders is in use even when nothing on it is mounted.
 */
export function holdersOf(name: string): string[] {
  const dir = sysDirOfName(name);
  if (!dir) return [];
  const names = [name, ...partitionsOf(name).map((p) => p.name)];
  const out = new Set<string>();
  for (const n of names) {
    const d = n === name ? dir : join(dir, n);
    try {
      for (const h of readdirSync(join(d, 'holders'))) out.add(h);
    } catch {
      // no holders directory: nothing stacked
    }
  }
  return [...out];
}

export interface PartitionFacts {
  name: string;
  dev: DevNumber;
  number: number;
  /** Bytes from the start of the disk. */
  start: number;
  size: number;
  readOnly: boolean;
}

/** The partitions of a whole disk, in partition-number order. */
export function partitionsOf(disk: string): PartitionFacts[] {
  const dir = sysDirOfName(disk);
  if (!dir) return [];
  const out: PartitionFacts[] = [];
  for (const entry of readdirSync(dir)) {
    const pdir = join(dir, entry);
    if (!entry.startsWith(disk) || !isPartitionDir(pdir)) continue;
    const dev = parseDevNumber(readSysAttr(pdir, 'dev') ?? '');
    if (!dev) continue;
    out.push({
      name: entry,
      dev,
      number: Number(readSysAttr(pdir, 'partition')),
      start: Number(readSysAttr(pdir, 'start')) * 512,
      size: Number(readSysAttr(pdir, 'size')) * 512,
      readOnly: readSysAttr(pdir, 'ro') === '1',
    });
  }
  return out.sort((a, b) => a.number - b.number);
}

/** Size in bytes from sysfs (the `size` attribute is always in 512-byte units). */
export function sysSizeOf(name: string): number | undefined {
  const dir = sysDirOfName(name);
  const s = dir ? readSysAttr(dir, 'size') : undefined;
  return s === undefined ? undefined : Number(s) * 512;
}

/** The backing file of a loop device (sysfs `loop/backing_file`), or undefined. */
export function loopBackingFile(name: string): string | undefined {
  const dir = sysDirOfName(name);
  return dir ? readSysAttr(dir, 'loop/backing_file') : undefined;
}

/** Whole-disk block devices known to the kernel (not partitions). */
export function allWholeDisks(): string[] {
  return readdirSync(SYS_BLOCK).filter((n) => {
    const dir = sysDirOfName(n);
    return dir !== undefined && !isPartitionDir(dir);
  });
}

export interface BlockStats {
  readBytes: number;
  writeBytes: number;
  discardBytes: number;
  writes: number;
  flushes: number;
}

/**
 * The kernel's I/O counters for a device (sysfs `stat`, Documentation/block/stat.rst):
 * what restore and the benches count "bytes really written" with. Sectors there are
 * always 512 bytes.
 */
export function blockStats(name: string): BlockStats | undefined {
  const dir = sysDirOfName(name);
  const text = dir ? readSysAttr(dir, 'stat') : undefined;
  if (text === undefined) return undefined;
  const f = text.split(/\s+/).map(Number);
  return {
    readBytes: f[2] * 512,
    writes: f[4],
    writeBytes: f[6] * 512,
    discardBytes: (f[13] ?? 0) * 512,
    flushes: f[15] ?? 0,
  };
}
