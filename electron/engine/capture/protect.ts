import { closeSync, openSync, realpathSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { identityMatches, probeSource, type SourceIdentity, type SourceInfo } from '../devices/block-device.js';
import { deviceOfPath } from '../devices/mounts.js';
import { checkProtectSource, factsOf, type ApplianceFacts } from '../devices/target-rules.js';
import type { Appliance } from '../appliance.js';
import { ChronodiskError } from '../errors.js';
import type { CaptureMode, DiskRecord } from '../store/catalog-state.js';

export interface ProtectOptions {
  name?: string;
  mode?: CaptureMode;
  blockSize?: number;
}

export const DEFAULT_BLOCK_SIZE = 64 * 1024;

/** Where the appliance lives, for the "an appliance cannot protect itself" rule. */
export function applianceFacts(dir: string): ApplianceFacts {
  const d = deviceOfPath(resolve(dir));
  return { dir: resolve(dir), ...(d?.device ? { device: d.device } : {}), devices: d?.devices ?? [], disks: d?.disks ?? [] };
}

/**
 * Registers a source (block device, partition or image file) with the appliance. Nothing
 * is written to the appliance unless every check passes.
 */
export async function protectSource(app: Appliance, source: string, options: ProtectOptions = {}): Promise<DiskRecord> {
  const info = await probeSource(source);
  let readable = true;
  try {
    closeSync(openSync(info.realPath, 'r'));
  } catch {
    readable = false;
  }
  const problems = checkProtectSource({ source: factsOf(info), appliance: applianceFacts(app.dir), readable });
  if (problems.length) throw new ChronodiskError(problems[0]!.rule === 'unreadable' ? 'permission' : 'refused', problems[0]!.message);
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < 4096 || blockSize > 1024 * 1024 || (blockSize & (blockSize - 1)) !== 0) {
    throw new ChronodiskError('usage', `--block-size ${blockSize} is not a power of two between 4 KiB and 1 MiB`);
  }
  const mode = options.mode ?? 'scan';
  if (mode === 'track' && info.kind === 'file') {
    throw new ChronodiskError('usage', `${source} is an image file: track mode needs a block device; use --mode scan or split`);
  }
  const twin = app.disks().find((d) => sameSource(d, info));
  if (twin) throw new ChronodiskError('refused', `${source} is already protected as ${twin.name}; unprotect ${twin.name} first to register it again`);
  const overlap = await overlappingDisk(app, info);
  if (overlap) throw new ChronodiskError('refused', diskAndPartition(source, overlap.name, overlap.source));
  const name = options.name ?? basename(info.path);
  return app.addDisk({
    name,
    source: info.path,
    size: info.size,
    mode,
    blockSize,
    identity: JSON.parse(JSON.stringify(info.identity)) as Record<string, string>,
  });
}

/** Whether `disk` was registered from the source `info` describes: the same identity, or the same path today. */
function sameSource(disk: DiskRecord, info: SourceInfo): boolean {
  const was = disk.identity as unknown as SourceIdentity;
  if (was && Object.keys(was).length && identityMatches(was, info.identity)) return true;
  try {
    return realpathSync(disk.source) === info.realPath;
  } catch {
    return false; // its source is gone: it cannot be this one
  }
}

/** Why `device` is refused beside the disk `name` (from `source`): one is the other's whole disk or partition. */
export function diskAndPartition(device: string, name: string, source: string): string {
  return `${device} and ${name} (${source}) are a disk and one of its partitions: protect the whole disk or its partitions, not both (unprotect ${name} first to switch)`;
}

/**
 * A protected disk that shares blocks with `info` as a whole disk and one of its
 * partitions (either way round): both would capture the same blocks. Disks whose source
 * cannot be probed now (unplugged) are passed over.
 */
async function overlappingDisk(app: Appliance, info: SourceInfo): Promise<DiskRecord | undefined> {
  if (info.kind === 'file') return undefined;
  const wholeOf = (s: SourceInfo) => s.partition?.parentName ?? s.name;
  for (const d of app.disks()) {
    const other = await probeSource(d.source).catch(() => undefined);
    if (!other || other.kind === 'file' || wholeOf(other) !== wholeOf(info)) continue;
    if (!other.partition !== !info.partition) return d;
  }
  return undefined;
}
