import { formatBytes } from '../../../shared/units.js';
import type { SourceInfo, SourceKind } from './block-device.js';
import type { DeviceMount, SystemDisk } from './mounts.js';

/**
 * The safety rules for picking a disk, as pure functions of facts gathered elsewhere
 * (probeSource, mountsOf, systemDisks, deviceOfPath). Modelled on balenaEtcher's drive
 * constraints, except that the system disk is a hard error, not a warning.
 */

export interface DeviceFacts {
  /** The path as the user named it, for messages. */
  path: string;
  kind: SourceKind;
  size: number;
  readOnly: boolean;
  /** The device node (/dev/sdb1); undefined for an image file. */
  device?: string;
  /** Whole disks it lives on: [/dev/sdb] for /dev/sdb1; [] for an image file. */
  disks: string[];
  /** For a loop device or one of its partitions. */
  backingFile?: string;
}

/** Where the appliance directory lives (deviceOfPath of it). */
export interface ApplianceFacts {
  dir: string;
  /** The partition or disk holding it; undefined on a filesystem without a block device. */
  device?: string;
  /** Every block device it lives on (the device, and those under a loop device's backing file). */
  devices?: string[];
  /** Every whole disk it lives on. */
  disks: string[];
}

export type TargetRule = 'system-disk' | 'appliance-disk' | 'source-disk' | 'too-small' | 'mounted' | 'in-use' | 'read-only' | 'unreadable';

export interface TargetProblem {
  rule: TargetRule;
  /** One line: what is wrong and what to do. */
  message: string;
}

/** Facts about a probed source or target (no I/O). */
export function factsOf(info: SourceInfo): DeviceFacts {
  // Device names as sysfs knows them, the form mountsOf and systemDisks report.
  const device = info.kind === 'file' ? undefined : info.name ? `/dev/${info.name}` : info.realPath;
  const disk = info.partition?.parent ?? device;
  return {
    path: info.path,
    kind: info.kind,
    size: info.size,
    readOnly: info.readOnly,
    ...(device ? { device } : {}),
    disks: disk ? [disk] : [],
    ...(info.identity.backingFile !== undefined ? { backingFile: info.identity.backingFile } : {}),
  };
}

const isInside = (path: string, dir: string): boolean => {
  const d = dir.endsWith('/') ? dir : `${dir}/`;
  return path === dir || path.startsWith(d);
};

/** Human size, with the exact byte count when rounding would make two sizes look equal. */
const sizeText = (n: number, other: number): string =>
  formatBytes(n) === formatBytes(other) ? `${formatBytes(n)} (${n} bytes)` : formatBytes(n);

export interface RestoreTargetInput {
  target: DeviceFacts;
  imageSize: number;
  systemDisks: SystemDisk[];
  appliance?: ApplianceFacts;
  /** Mount points of the target and its partitions (mountsOf). */
  mounts: DeviceMount[];
  /** Devices stacked on the target or its partitions (holdersOf: dm-0, md0). */
  holders?: string[];
  /** The disk the image was captured from, when known: rolling it back is a different verb. */
  sourceDisks?: string[];
}

/** Why a disk or file may not receive a restore; empty when it may. */
export function checkRestoreTarget(input: RestoreTargetInput): TargetProblem[] {
  const { target, imageSize, appliance, mounts } = input;
  const problems: TargetProblem[] = [];
  const name = target.path;
  for (const disk of target.disks) {
    const sys = input.systemDisks.find((s) => s.disk === disk);
    if (sys) {
      problems.push({
        rule: 'system-disk',
        message: `${name} is on the system disk ${disk} (it holds ${sys.holds.join(', ')}): restore it from a live system or onto another disk`,
      });
    }
  }
  const onAppliance =
    (appliance !== undefined && target.disks.some((d) => appliance.disks.includes(d))) ||
    (appliance !== undefined && target.kind === 'file' && isInside(target.path, appliance.dir));
  if (onAppliance) problems.push({ rule: 'appliance-disk', message: `${name} holds the appliance ${appliance.dir}: pick another disk` });
  if (input.sourceDisks && target.disks.some((d) => input.sourceDisks!.includes(d))) {
    problems.push({ rule: 'source-disk', message: `${name} is the disk this image was captured from: roll it back in place (restore without --to)` });
  }
  // An image file grows as it is written; a device is as big as it is.
  if (target.kind !== 'file' && target.size < imageSize) {
    problems.push({
      rule: 'too-small',
      message: `${name} is too small: the image needs ${sizeText(imageSize, target.size)}, the disk has ${sizeText(target.size, imageSize)}`,
    });
  }
  if (mounts.length > 0) {
    const where = mounts.map((m) => (m.mountPoint === '[SWAP]' ? `${m.device} (active swap)` : `${m.mountPoint} (${m.device})`));
    problems.push({ rule: 'mounted', message: `${name} is in use: mounted at ${where.join(', ')}; unmount it first` });
  }
  if (input.holders && input.holders.length > 0) {
    problems.push({
      rule: 'in-use',
      message: `${name} is in use by ${input.holders.map((h) => `/dev/${h}`).join(', ')} (LVM, dm-crypt or RAID): stop that first`,
    });
  }
  if (target.readOnly) problems.push({ rule: 'read-only', message: `${name} is read-only: pick a writable disk or file` });
  return problems;
}

export interface ProtectSourceInput {
  source: DeviceFacts;
  appliance?: ApplianceFacts;
  /** False when opening the source for reading failed. */
  readable: boolean;
}

/** Why a source may not be protected; empty when it may. */
export function checkProtectSource(input: ProtectSourceInput): TargetProblem[] {
  const { source, appliance } = input;
  const problems: TargetProblem[] = [];
  if (!input.readable) {
    problems.push({ rule: 'unreadable', message: `${source.path} cannot be read: run as root or fix its permissions` });
  }
  if (appliance) {
    // The appliance's own disk, or the partition it lives on; another partition of the same disk is fine.
    const wholeDisk = source.kind !== 'partition' && source.disks.some((d) => appliance.disks.includes(d));
    const applianceDevices = appliance.devices ?? (appliance.device ? [appliance.device] : []);
    const samePartition = source.device !== undefined && applianceDevices.includes(source.device);
    const fileInside = (source.kind === 'file' && isInside(source.path, appliance.dir)) || (source.backingFile !== undefined && isInside(source.backingFile, appliance.dir));
    if (wholeDisk || samePartition || fileInside) {
      problems.push({
        rule: 'appliance-disk',
        message: `${source.path} holds the appliance ${appliance.dir}: an appliance cannot protect itself; put it on another disk`,
      });
    }
  }
  return problems;
}
