import { basename } from 'node:path';
import { deviceOfPath, type MountEntry, mountsOf, readMounts, readSwaps, type SwapEntry, systemDisks } from './mounts.js';
import {
  allWholeDisks,
  devOfName,
  holdersOf,
  loopBackingFile,
  partitionsOf,
  readSysAttr,
  sysDirOfName,
  sysSizeOf,
} from './sysfs-block.js';

/**
 * The drive list users pick from: drivelist's disks plus loop devices (which drivelist
 * leaves out), with "system" and "appliance" decided from what is mounted rather than
 * from drivelist's isSystem flag (which marks every non-removable disk).
 */

export interface DrivePartition {
  device: string;
  number: number;
  /** Bytes from the start of the disk. */
  start: number;
  size: number;
  mountpoints: string[];
}

export interface Drive {
  /** /dev/sdb, /dev/nvme0n1, /dev/loop3 */
  device: string;
  kind: 'disk' | 'loop';
  description: string;
  model?: string;
  size: number;
  /** Holds /, /boot, /usr or active swap. */
  isSystem: boolean;
  /** What makes it a system disk ("/", "[SWAP]", …). */
  systemHolds: string[];
  /** Holds the appliance directory given to listDrives. */
  isAppliance: boolean;
  isRemovable: boolean;
  isReadOnly: boolean;
  backingFile?: string;
  /** Mount points of the disk and all its partitions ("[SWAP]" for swap). */
  mountpoints: string[];
  /** Devices stacked on it or its partitions (dm-0, md0): in use though not mounted. */
  holders: string[];
  partitions: DrivePartition[];
}

export interface ListDrivesOptions {
  /** The appliance directory: the drive holding it is flagged isAppliance. */
  applianceDir?: string;
  mounts?: MountEntry[];
  swaps?: SwapEntry[];
}

interface BaseDrive {
  device: string;
  description: string;
  isRemovable: boolean;
  isReadOnly: boolean;
  size: number | null;
}

/**
 * drivelist's disks; sysfs's whole disks if drivelist cannot run (no lsblk, or its native
 * addon not built for this runtime: imported lazily so that never breaks the engine).
 */
async function baseDrives(): Promise<BaseDrive[]> {
  try {
    const drivelist = await import('drivelist');
    return (await drivelist.list()).filter((d) => !basename(d.device).startsWith('loop'));
  } catch {
    return allWholeDisks()
      .filter((n) => !n.startsWith('loop') && !n.startsWith('ram'))
      .map((n) => ({
        device: `/dev/${n}`,
        description: '',
        isRemovable: readSysAttr(sysDirOfName(n) ?? '', 'removable') === '1',
        isReadOnly: readSysAttr(sysDirOfName(n) ?? '', 'ro') === '1',
        size: sysSizeOf(n) ?? null,
      }));
  }
}

/** Attached loop devices (those with a backing file). */
function loopDrives(): BaseDrive[] {
  return allWholeDisks()
    .filter((n) => n.startsWith('loop') && loopBackingFile(n) !== undefined)
    .map((n) => ({
      device: `/dev/${n}`,
      description: `Loop device (${loopBackingFile(n)})`,
      isRemovable: false,
      isReadOnly: readSysAttr(sysDirOfName(n) ?? '', 'ro') === '1',
      size: sysSizeOf(n) ?? null,
    }));
}

export async function listDrives(opts: ListDrivesOptions = {}): Promise<Drive[]> {
  const q = { mounts: opts.mounts ?? readMounts(), swaps: opts.swaps ?? readSwaps() };
  const system = systemDisks(q);
  const applianceDisks = opts.applianceDir ? (deviceOfPath(opts.applianceDir, q.mounts)?.disks ?? []) : [];
  const out: Drive[] = [];
  for (const base of [...(await baseDrives()), ...loopDrives()]) {
    const name = basename(base.device);
    const dev = devOfName(name);
    const size = base.size ?? sysSizeOf(name) ?? 0;
    // Unconfigured zram, detached md and the like: nothing to read or write.
    if (!dev || size === 0) continue;
    const mounts = mountsOf(dev, q);
    const backingFile = loopBackingFile(name);
    const model = readSysAttr(sysDirOfName(name) ?? '', 'device/model');
    const holds = system.find((s) => s.disk === base.device)?.holds ?? [];
    // drivelist falls back to a bare PCI vendor id ("0x1af4") for virtio disks.
    const described = /^0x[0-9a-f]+$/i.test(base.description) ? '' : base.description;
    out.push({
      device: base.device,
      kind: backingFile !== undefined ? 'loop' : 'disk',
      description: described || model || name,
      ...(model ? { model } : {}),
      size,
      isSystem: holds.length > 0,
      systemHolds: holds,
      isAppliance: applianceDisks.includes(base.device),
      isRemovable: base.isRemovable,
      isReadOnly: base.isReadOnly,
      ...(backingFile !== undefined ? { backingFile } : {}),
      mountpoints: mounts.map((m) => m.mountPoint),
      holders: holdersOf(name),
      partitions: partitionsOf(name).map((p) => ({
        device: `/dev/${p.name}`,
        number: p.number,
        start: p.start,
        size: p.size,
        mountpoints: mounts.filter((m) => m.device === `/dev/${p.name}`).map((m) => m.mountPoint),
      })),
    });
  }
  return out;
}
