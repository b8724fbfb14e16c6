import type { BlockSource } from '../block-source.js';
import { isChronodiskError, notFound } from '../errors.js';
import { Ext4Reader } from './ext4.js';
import { EXT_MAGIC } from './ext4-superblock.js';
import { ExfatReader } from './exfat.js';
import { FatReader } from './fat.js';
import { openVolume } from './partitions.js';
import type { FileSystemReader } from './types.js';

export type { ChunkSink, DirEntry, FileExtent, FileStat, FileSystemKind, FileSystemReader, FileType } from './types.js';

/**
 * Probes a volume's superblock magics and opens the matching reader. A volume holding
 * none of the filesystems read in-process is 'not-found' (with what was seen, so the
 * caller can fall back to the kernel path); a recognised but broken one is 'damaged'.
 */
export async function detectFileSystem(src: BlockSource): Promise<FileSystemReader> {
  if (src.size < 512) throw notFound(`no filesystem: the volume is only ${src.size} bytes`);
  const head = await src.read(0, Math.min(src.size, 4096));
  if (head.length >= 1082 && head.readUInt16LE(1080) === EXT_MAGIC) return Ext4Reader.open(src);
  if (head.toString('latin1', 3, 11) === 'EXFAT   ') return ExfatReader.open(src);
  try {
    return await FatReader.open(src);
  } catch (e) {
    if (!isChronodiskError(e, 'not-found')) throw e;
  }
  const btrfs = src.size >= 0x10048 ? (await src.read(0x10040, 8)).toString('latin1') : '';
  throw notFound(`no ext2/3/4, FAT or exFAT filesystem found (${btrfs === '_BHRfS_M' ? 'a Btrfs superblock' : describe(head)})`);
}

/** The filesystem a user names as DISK (its only filesystem) or DISK:N (partition N). */
export async function openFileSystem(disk: BlockSource, partition?: number): Promise<FileSystemReader> {
  return detectFileSystem(await openVolume(disk, partition));
}

/** A few words about what the first sector holds, for the error message. */
function describe(head: Buffer): string {
  const ascii = (a: number, b: number) => head.toString('latin1', a, b).replace(/[^\x20-\x7e]/g, '.');
  if (ascii(3, 11) === 'NTFS    ') return 'an NTFS boot sector';
  if (ascii(0, 4) === 'XFSB') return 'an XFS superblock';
  if (ascii(0, 4) === 'LUKS') return 'a LUKS encrypted volume';
  if (ascii(0, 4) === 'hsqs') return 'a squashfs image';
  if (head.length >= 4096 && ascii(4086, 4096) === 'SWAPSPACE2') return 'Linux swap';
  if (head.every((b) => b === 0)) return 'the first 4 KiB are all zeros';
  return `first bytes ${head.subarray(0, 8).toString('hex')}`;
}
