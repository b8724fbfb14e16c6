import { execFile } from 'node:child_process';
import { accessSync, type BigIntStats, closeSync, constants, openSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ChronodiskError, fromFsError, permissionDenied } from '../errors.js';
import {
  type DevNumber,
  decodeDev,
  devKey,
  devOfName,
  parentDiskOf,
  readSysAttr,
  sysDirOfDev,
  sysDirOfName,
} from './sysfs-block.js';

const run = promisify(execFile);

export type SourceKind = 'disk' | 'partition' | 'loop' | 'file';

/**
 * What recognises a disk after /dev/sdX renames. For a partition these describe its
 * whole disk, and `partition` says which slice of it; a loop device has no serial or
 * WWN and is known by its backing file; an image file by its path and inode.
 */
export interface SourceIdentity {
  serial?: string;
  wwn?: string;
  model?: string;
  /** /dev/disk/by-id links to the whole disk (none where udev is absent). */
  byId: string[];
  backingFile?: string;
  /** Where in the backing file a loop device starts, when not at 0 (`losetup -o`). */
  backingOffset?: number;
  file?: { path: string; dev: string; ino: string };
  partition?: { number: number; start: number };
}

export interface SourceInfo {
  kind: SourceKind;
  /** The path as given. */
  path: string;
  /** Symlinks resolved (/dev/disk/by-id/… → /dev/sdb). */
  realPath: string;
  /** Kernel name (sdb1, loop0p2); undefined for files. */
  name?: string;
  size: number;
  /** The device's own dev_t; for a file, the device holding it is not given here. */
  dev?: DevNumber;
  partition?: {
    number: number;
    /** Bytes from the start of the parent disk. */
    start: number;
    parent: string;
    parentName: string;
    parentDev: DevNumber;
  };
  identity: SourceIdentity;
  logicalSectorSize: number;
  physicalSectorSize: number;
  readOnly: boolean;
  /**
   * The kernel's sequence number for this attachment of the whole disk (sysfs diskseq):
   * it changes when a disk is replugged or a loop device re-attached, even under the same
   * name, and restarts at boot, so it tells "same attachment", not "same disk".
   */
  diskSeq?: number;
}

/** Probes a block device, a partition or a regular image file. Throws ChronodiskError. */
export async function probeSource(path: string): Promise<SourceInfo> {
  let realPath: string;
  let st: BigIntStats;
  try {
    realPath = realpathSync(path);
    st = statSync(realPath, { bigint: true });
  } catch (e) {
    throw fromFsError(e, path);
  }
  if (st.isDirectory()) throw new ChronodiskError('usage', `${path} is a directory, not a disk or image file`);
  if (!st.isBlockDevice() && !st.isFile()) {
    throw new ChronodiskError('usage', `${path} is not a block device or image file`);
  }
  assertReadable(path, realPath);
  if (st.isFile()) {
    return {
      kind: 'file',
      path,
      realPath,
      size: Number(st.size),
      identity: { byId: [], file: { path: realPath, dev: devKey(decodeDev(st.dev)), ino: String(st.ino) } },
      logicalSectorSize: 512,
      physicalSectorSize: Number(st.blksize) || 512,
      readOnly: !isWritable(realPath),
    };
  }
  return probeBlockDevice(path, realPath, decodeDev(st.rdev));
}

function assertReadable(path: string, realPath: string): void {
  try {
    closeSync(openSync(realPath, 'r'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      throw permissionDenied(path, ' reading it', e);
    }
    if (err.code === 'ENXIO' || err.code === 'ENODEV' || err.code === 'ENOMEDIUM') {
      throw new ChronodiskError('not-found', `${path} has no medium or device behind it`, { cause: e });
    }
    throw fromFsError(e, path);
  }
}

/**
 * Whether we may write it, without opening it for writing: udev treats the close of a
 * disk opened for writing as a change and re-reads its partition table.
 */
function isWritable(realPath: string): boolean {
  try {
    accessSync(realPath, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function probeBlockDevice(path: string, realPath: string, dev: DevNumber): Promise<SourceInfo> {
  const dir = sysDirOfDev(dev);
  if (!dir) throw new ChronodiskError('not-found', `${path}: the kernel has no block device ${devKey(dev)} (stale device node?)`);
  const name = dir.slice(dir.lastIndexOf('/') + 1);
  const parentName = parentDiskOf(name);
  const diskName = parentName ?? name;
  const diskDir = sysDirOfName(diskName) ?? dir;
  const size = Number(readSysAttr(dir, 'size') ?? '0') * 512;
  const diskPath = `/dev/${diskName}`;
  const identity = await diskIdentity(diskDir, diskPath);
  const info: SourceInfo = {
    kind: parentName ? 'partition' : identity.backingFile !== undefined ? 'loop' : 'disk',
    path,
    realPath,
    name,
    size,
    dev,
    identity,
    logicalSectorSize: Number(readSysAttr(diskDir, 'queue/logical_block_size') ?? 512),
    physicalSectorSize: Number(readSysAttr(diskDir, 'queue/physical_block_size') ?? 512),
    readOnly: readSysAttr(dir, 'ro') === '1' || !isWritable(realPath),
  };
  const seq = readSysAttr(diskDir, 'diskseq');
  if (seq !== undefined) info.diskSeq = Number(seq);
  if (parentName) {
    const number = Number(readSysAttr(dir, 'partition'));
    const start = Number(readSysAttr(dir, 'start')) * 512;
    const parentDev = devOfName(parentName);
    if (!parentDev) throw new ChronodiskError('not-found', `${path}: its disk ${parentName} vanished while probing`);
    info.partition = { number, start, parent: diskPath, parentName, parentDev };
    identity.partition = { number, start };
  }
  return info;
}

interface LsblkDevice {
  serial?: string | null;
  wwn?: string | null;
  model?: string | null;
}

/** Identity of a whole disk: udev's view through lsblk where there is one, sysfs otherwise. */
async function diskIdentity(dir: string, diskPath: string): Promise<SourceIdentity> {
  const id: SourceIdentity = { byId: byIdLinks(diskPath) };
  const backing = readSysAttr(dir, 'loop/backing_file');
  if (backing !== undefined) {
    id.backingFile = backing;
    const offset = Number(readSysAttr(dir, 'loop/offset') ?? 0);
    if (offset > 0) id.backingOffset = offset;
    return id;
  }
  let fromLsblk: LsblkDevice = {};
  try {
    const { stdout } = await run('lsblk', ['-J', '-d', '-o', 'SERIAL,WWN,MODEL', diskPath]);
    fromLsblk = (JSON.parse(stdout) as { blockdevices: LsblkDevice[] }).blockdevices[0] ?? {};
  } catch {
    // lsblk missing or refusing: sysfs below still knows most disks.
  }
  const pick = (...values: (string | null | undefined)[]) => values.find((v) => v !== undefined && v !== null && v.trim() !== '')?.trim();
  id.serial = pick(fromLsblk.serial, readSysAttr(dir, 'serial'), readSysAttr(dir, 'device/serial'), vpdSerial(dir));
  id.wwn = pick(fromLsblk.wwn, readSysAttr(dir, 'wwid'), readSysAttr(dir, 'device/wwid'));
  id.model = pick(fromLsblk.model, readSysAttr(dir, 'device/model'));
  for (const k of ['serial', 'wwn', 'model'] as const) if (id[k] === undefined) delete id[k];
  return id;
}

/** SCSI unit serial number (VPD page 0x80): 4 header bytes, then ASCII. */
function vpdSerial(dir: string): string | undefined {
  const raw = readSysAttr(dir, 'device/vpd_pg80');
  if (raw === undefined || raw.length < 5) return undefined;
  // eslint-disable-next-line no-control-regex
  const s = raw.slice(4).replace(/[\x00-\x1f]/g, '').trim();
  return s || undefined;
}

/** /dev/disk/by-id links that resolve to `diskPath`, sorted for stable comparison. */
function byIdLinks(diskPath: string): string[] {
  const base = '/dev/disk/by-id';
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    try {
      if (realpathSync(join(base, e)) === diskPath) out.push(join(base, e));
    } catch {
      // a dangling link: the disk it named is gone
    }
  }
  return out.sort();
}

/**
 * True if `a` and `b` describe the same disk (or the same partition of it, or the same
 * image file), whatever its /dev name is today. A serial or WWN on one side that the other
 * lacks or contradicts is a mismatch: better a "changed identity" report than capturing
 * the wrong disk.
 */
export function identityMatches(a: SourceIdentity, b: SourceIdentity): boolean {
  if ((a.partition === undefined) !== (b.partition === undefined)) return false;
  if (a.partition && b.partition && (a.partition.number !== b.partition.number || a.partition.start !== b.partition.start)) {
    return false;
  }
  if (a.file || b.file) {
    return a.file !== undefined && b.file !== undefined && a.file.path === b.file.path && a.file.ino === b.file.ino && a.file.dev === b.file.dev;
  }
  if (a.backingFile !== undefined || b.backingFile !== undefined) {
    return a.backingFile === b.backingFile && (a.backingOffset ?? 0) === (b.backingOffset ?? 0);
  }
  if (a.model !== undefined && b.model !== undefined && a.model !== b.model) return false;
  if (a.wwn !== undefined || b.wwn !== undefined) return a.wwn === b.wwn;
  if (a.serial !== undefined || b.serial !== undefined) return a.serial === b.serial;
  if (a.byId.length > 0 || b.byId.length > 0) return a.byId.some((l) => b.byId.includes(l));
  // Nothing stable on either side: we cannot tell, so say no.
  return false;
}
