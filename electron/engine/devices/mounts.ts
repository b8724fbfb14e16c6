import { type BigIntStats, readFileSync, realpathSync, statSync } from 'node:fs';
import { fromFsError } from '../errors.js';
import { resolve } from 'node:path';
import {
  type DevNumber,
  decodeDev,
  devKey,
  devOfName,
  loopBackingFile,
  partitionsOf,
  sysDirOfDev,
  wholeDisksOf,
} from './sysfs-block.js';

/**
 * What is mounted where, by device number: /proc/self/mountinfo and /proc/swaps. Mount
 * points are matched by dev_t, not by name, so /dev/disk/by-uuid/… sources and renamed
 * nodes are still recognised.
 */

export interface MountEntry {
  id: number;
  parentId: number;
  dev: DevNumber;
  /** Path inside the filesystem that is mounted (bind mounts mount subtrees). */
  root: string;
  mountPoint: string;
  options: string;
  fsType: string;
  /** The mount source: /dev/… for a block device, anything for virtual filesystems. */
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescapeOctal = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parses /proc/PID/mountinfo (proc(5)); lines it cannot read are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 3) continue;
    const [maj, min] = fields[2].split(':').map(Number);
    out.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      dev: { major: maj, minor: min },
      root: unescapeOctal(fields[3]),
      mountPoint: unescapeOctal(fields[4]),
      options: fields[5],
      fsType: fields[sep + 1],
      source: unescapeOctal(fields[sep + 2]),
    });
  }
  return out;
}

export const readMounts = (): MountEntry[] => parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));

export interface SwapEntry {
  path: string;
  type: 'partition' | 'file';
}

/** Parses /proc/swaps (header line, then whitespace-separated columns, octal escapes). */
export function parseSwaps(text: string): SwapEntry[] {
  return text
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => {
      const [path, type] = l.trim().split(/\s+/);
      return { path: unescapeOctal(path), type: type === 'partition' ? 'partition' : 'file' };
    });
}

export const readSwaps = (): SwapEntry[] => parseSwaps(readFileSync('/proc/swaps', 'utf8'));

/** A device's dev_t from its node, or undefined for a path that is not a block device. */
function devOfNode(path: string): DevNumber | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return st.isBlockDevice() ? decodeDev(st.rdev) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The block device a mount really sits on. Usually its dev_t; btrfs (and others) show an
 * anonymous 0:N there, so fall back to the /dev/… source.
 */
export function mountDevice(m: MountEntry): DevNumber | undefined {
  if (m.dev.major !== 0) return m.dev;
  return m.source.startsWith('/dev/') ? devOfNode(m.source) : undefined;
}

export interface DeviceMount {
  /** Mount point, or "[SWAP]" for active swap. */
  mountPoint: string;
  /** The mounted device node (the disk itself or one of its partitions). */
  device: string;
  fsType: string;
}

export interface MountQuery {
  mounts?: MountEntry[];
  swaps?: SwapEntry[];
}

/**
 * Mount points (and active swap) of a device and of any of its partitions: what makes it
 * unsafe to overwrite. `device` is a /dev path or a device number.
 */
export function mountsOf(device: string | DevNumber, q: MountQuery = {}): DeviceMount[] {
  const dev = typeof device === 'string' ? devOfNode(device) : device;
  if (!dev) return [];
  const dir = sysDirOfDev(dev);
  const name = dir?.slice(dir.lastIndexOf('/') + 1);
  const members = new Map<string, string>([[devKey(dev), name ? `/dev/${name}` : String(device)]]);
  if (name) for (const p of partitionsOf(name)) members.set(devKey(p.dev), `/dev/${p.name}`);
  const out: DeviceMount[] = [];
  for (const m of q.mounts ?? readMounts()) {
    const d = mountDevice(m);
    const member = d && members.get(devKey(d));
    if (member) out.push({ mountPoint: m.mountPoint, device: member, fsType: m.fsType });
  }
  for (const s of q.swaps ?? readSwaps()) {
    if (s.type !== 'partition') continue;
    const d = devOfNode(s.path);
    const member = d && members.get(devKey(d));
    if (member) out.push({ mountPoint: '[SWAP]', device: member, fsType: 'swap' });
  }
  return out;
}

export interface PathDevice {
  /** The block device holding the path (a partition or a whole disk), e.g. /dev/sda2. */
  device: string;
  dev: DevNumber;
  /**
   * Every whole disk the data physically lives on: ['/dev/sda'] for /dev/sda2, several
   * for LVM or md, and for a loop device also the disks under its backing file.
   */
  disks: string[];
  /** Every block device it lives on: `device`, and for a loop device the ones under its backing file. */
  devices: string[];
}

/**
 * The block device holding a file or directory, and its whole disks: "the appliance's
 * own disk". Undefined for a path on a filesystem with no block device (tmpfs, proc).
 */
export function deviceOfPath(path: string, mounts?: MountEntry[], seen = new Set<string>()): PathDevice | undefined {
  let abs: string;
  let st: BigIntStats;
  try {
    abs = realpathSync(resolve(path));
    st = statSync(abs, { bigint: true });
  } catch (e) {
    throw fromFsError(e, path);
  }
  const direct = decodeDev(st.dev);
  if (sysDirOfDev(direct)) return describeDev(direct, mounts, seen);
  const holder = mountHolding(abs, mounts ?? readMounts());
  const dev = holder && mountDevice(holder);
  return dev ? describeDev(dev, mounts, seen) : undefined;
}

function describeDev(dev: DevNumber, mounts?: MountEntry[], seen = new Set<string>()): PathDevice | undefined {
  const dir = sysDirOfDev(dev);
  if (!dir) return undefined;
  const name = dir.slice(dir.lastIndexOf('/') + 1);
  const out: PathDevice = { device: `/dev/${name}`, dev, disks: [], devices: [`/dev/${name}`] };
  for (const disk of wholeDisksOf(name)) {
    out.disks.push(`/dev/${disk}`);
    // A loop device's data lives in a file on another disk: that one counts too.
    const backing = loopBackingFile(disk);
    if (backing === undefined || seen.has(disk)) continue;
    seen.add(disk);
    const under = safeDeviceOfPath(backing.replace(/ \(deleted\)$/, ''), mounts, seen);
    if (under) {
      out.devices.push(...under.devices);
      out.disks.push(...under.disks);
    }
  }
  out.disks = [...new Set(out.disks)];
  out.devices = [...new Set(out.devices)];
  return out;
}

/** The mount whose mount point is the longest prefix of `abs` (the last one mounted wins). */
function mountHolding(abs: string, mounts: MountEntry[]): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const inside = abs === mp || mp === '/' || abs.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export interface SystemDisk {
  /** Whole disk, e.g. /dev/sda. */
  disk: string;
  dev: DevNumber;
  /** What makes it a system disk: "/", "/boot", "[SWAP]", … */
  holds: string[];
}

const SYSTEM_MOUNTS = ['/', '/boot', '/boot/efi', '/efi', '/usr'];

/**
 * The whole disks the running system needs: those holding /, /boot, /boot/efi, /usr and
 * active swap — found from what is mounted, not from drivelist's isSystem flag (which
 * calls every non-removable disk a system disk).
 */
export function systemDisks(q: MountQuery = {}): SystemDisk[] {
  const mounts = q.mounts ?? readMounts();
  const found = new Map<string, SystemDisk>();
  const add = (dev: DevNumber | undefined, what: string) => {
    const d = dev && describeDev(dev);
    for (const disk of d?.disks ?? []) {
      const name = disk.slice(5);
      const entry = found.get(disk) ?? { disk, dev: devOfName(name) ?? d!.dev, holds: [] };
      if (!entry.holds.includes(what)) entry.holds.push(what);
      found.set(disk, entry);
    }
  };
  for (const m of mounts) if (SYSTEM_MOUNTS.includes(m.mountPoint)) add(mountDevice(m), m.mountPoint);
  for (const s of q.swaps ?? readSwaps()) {
    if (s.type === 'partition') add(devOfNode(s.path), '[SWAP]');
    else {
      const holder = safeDeviceOfPath(s.path, mounts);
      if (holder) add(holder.dev, '[SWAP]');
    }
  }
  return [...found.values()];
}

function safeDeviceOfPath(path: string, mounts?: MountEntry[], seen?: Set<string>): PathDevice | undefined {
  try {
    return deviceOfPath(path, mounts, seen);
  } catch {
    return undefined;
  }
}
