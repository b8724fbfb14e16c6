import { SliceSource, type BlockSource } from '../block-source.js';
import { isChronodiskError } from '../errors.js';
import { detectFileSystem } from '../fs/filesystem.js';
import { readPartitionTable } from '../fs/partitions.js';

/** A filesystem found on a time image: the whole disk (partition 0) or partition N. */
export interface VolumeInfo {
  partition: number;
  /** ext4, vfat, exfat, xfs, … or 'unknown' when nothing we read is there. */
  fsType: string;
  label?: string;
  start: number;
  size: number;
  /** Whether its files can be listed: an in-process reader knows it, or the kernel can mount it here. */
  browsable: boolean;
}

/** Types the kernel path (files/kernel-mount.ts, Linux and root) mounts when no in-process reader knows them. */
const KERNEL_TYPES = new Set(['xfs', 'btrfs', 'ntfs', 'squashfs', 'erofs']);

/**
 * The volumes of a disk image (a time image, usually): its partitions (extended ones
 * left out), or the whole disk when it has no table, each with the filesystem on it.
 */
export async function listVolumes(image: BlockSource): Promise<VolumeInfo[]> {
  const out: VolumeInfo[] = [];
  for (const v of await readPartitionTable(image)) {
    if (v.type === 'extended') continue;
    const size = Math.max(0, Math.min(v.size, image.size - v.offset));
    const found = size > 0 ? await fileSystemOf(new SliceSource(image, v.offset, size)) : { fsType: 'unknown', browsable: false };
    out.push({ partition: v.number, start: v.offset, size: v.size, ...found });
  }
  return out;
}

async function fileSystemOf(volume: BlockSource): Promise<Pick<VolumeInfo, 'fsType' | 'label' | 'browsable'>> {
  try {
    const fs = await detectFileSystem(volume);
    return { fsType: fs.kind.startsWith('fat') ? 'vfat' : fs.kind, ...(fs.label ? { label: fs.label } : {}), browsable: true };
  } catch (e) {
    if (!isChronodiskError(e, 'not-found') && !isChronodiskError(e, 'damaged')) throw e;
  }
  const fsType = volume.size >= 4096 ? sniff(await volume.read(0, 4096), volume.size >= 0x10048 ? await volume.read(0x10040, 8) : undefined) : 'unknown';
  const kernel = process.platform === 'linux' && process.getuid?.() === 0 && KERNEL_TYPES.has(fsType);
  return { fsType, browsable: kernel };
}

/** The filesystem named by its superblock magic, for those no in-process reader opens. */
function sniff(head: Buffer, btrfsMagic: Buffer | undefined): string {
  const ascii = (a: number, b: number) => head.toString('latin1', a, b);
  if (ascii(0, 4) === 'XFSB') return 'xfs';
  if (btrfsMagic?.toString('latin1') === '_BHRfS_M') return 'btrfs';
  if (ascii(3, 11) === 'NTFS    ') return 'ntfs';
  if (ascii(0, 4) === 'hsqs') return 'squashfs';
  if (head.readUInt32LE(1024) === 0xe0f5e1e2) return 'erofs';
  if (ascii(0, 4) === 'LUKS') return 'crypto_LUKS';
  if (ascii(4086, 4096) === 'SWAPSPACE2') return 'swap';
  return 'unknown';
}
