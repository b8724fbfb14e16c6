import type { BlockSource } from '../block-source.js';
import { damaged, notFound } from '../errors.js';
import { readVolume } from './volume-read.js';

export const EXT_MAGIC = 0xef53;
const INCOMPAT_FILETYPE = 0x2;
const INCOMPAT_RECOVER = 0x4;
const INCOMPAT_JOURNAL_DEV = 0x8;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_EXTENTS = 0x40;
const INCOMPAT_64BIT = 0x80;
const INCOMPAT_FLEX_BG = 0x200;
const INCOMPAT_INLINE_DATA = 0x8000;
const COMPAT_HAS_JOURNAL = 0x4;
const RO_COMPAT_SPARSE_SUPER = 0x1;

/** The parts of an ext2/3/4 superblock a reader needs, checked for sanity. */
export interface ExtSuperblock {
  kind: 'ext2' | 'ext3' | 'ext4';
  blockSize: number;
  blocksCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesCount: number;
  inodesPerGroup: number;
  inodeSize: number;
  groupCount: number;
  descSize: number;
  fileType: boolean;
  inlineData: boolean;
  metaBg: boolean;
  firstMetaBg: number;
  sparseSuper: boolean;
  /** The journal holds committed transactions not yet written home (not cleanly unmounted). */
  needsRecovery: boolean;
  journalInode: number;
  label?: string;
}

export async function readExtSuperblock(src: BlockSource): Promise<ExtSuperblock> {
  if (src.size < 2048) throw notFound('no ext2/3/4 superblock: the volume is smaller than 2 KiB');
  const sb = await src.read(1024, 1024);
  if (sb.readUInt16LE(0x38) !== EXT_MAGIC) throw notFound('no ext2/3/4 superblock magic at byte 1080');
  const bad = (what: string) => damaged(`ext superblock at byte 1024: ${what}`);
  const logBlock = sb.readUInt32LE(0x18);
  if (logBlock > 6) throw bad(`block size 2^${10 + logBlock} is not 1 KiB to 64 KiB`);
  const blockSize = 1024 << logBlock;
  const incompat = sb.readUInt32LE(0x60);
  if (incompat & INCOMPAT_JOURNAL_DEV) throw notFound('this ext volume is an external journal device and holds no files');
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const blocksCount = sb.readUInt32LE(0x4) + (is64 ? sb.readUInt32LE(0x150) * 2 ** 32 : 0);
  if (blocksCount === 0 || !Number.isSafeInteger(blocksCount * blockSize)) throw bad(`block count ${blocksCount} is impossible`);
  const firstDataBlock = sb.readUInt32LE(0x14);
  if (firstDataBlock >= blocksCount || firstDataBlock > 1) throw bad(`first data block ${firstDataBlock} is impossible`);
  const blocksPerGroup = sb.readUInt32LE(0x20);
  if (blocksPerGroup === 0 || blocksPerGroup > blockSize * 8) throw bad(`${blocksPerGroup} blocks per group`);
  const inodesPerGroup = sb.readUInt32LE(0x28);
  if (inodesPerGroup === 0 || inodesPerGroup > blockSize * 8) throw bad(`${inodesPerGroup} inodes per group`);
  const revLevel = sb.readUInt32LE(0x4c);
  const inodeSize = revLevel === 0 ? 128 : sb.readUInt16LE(0x58);
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) throw bad(`inode size ${inodeSize}`);
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  const inodesCount = sb.readUInt32LE(0x0);
  if (inodesCount < 11 || inodesCount > groupCount * inodesPerGroup) throw bad(`${inodesCount} inodes in ${groupCount} groups of ${inodesPerGroup}`);
  let descSize = 32;
  if (is64) {
    descSize = sb.readUInt16LE(0xfe);
    if (descSize < 32 || descSize > blockSize || (descSize & (descSize - 1)) !== 0) throw bad(`group descriptor size ${descSize}`);
  }
  const compat = sb.readUInt32LE(0x5c);
  const roCompat = sb.readUInt32LE(0x64);
  const kind =
    incompat & (INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG | INCOMPAT_INLINE_DATA) ? 'ext4' : compat & COMPAT_HAS_JOURNAL ? 'ext3' : 'ext2';
  const labelBytes = sb.subarray(0x78, 0x88);
  const nul = labelBytes.indexOf(0);
  const label = labelBytes.subarray(0, nul < 0 ? 16 : nul).toString('utf8');
  return {
    kind,
    blockSize,
    blocksCount,
    firstDataBlock,
    blocksPerGroup,
    inodesCount,
    inodesPerGroup,
    inodeSize,
    groupCount,
    descSize,
    fileType: (incompat & INCOMPAT_FILETYPE) !== 0,
    inlineData: (incompat & INCOMPAT_INLINE_DATA) !== 0,
    metaBg: (incompat & INCOMPAT_META_BG) !== 0,
    firstMetaBg: sb.readUInt32LE(0x104),
    sparseSuper: (roCompat & RO_COMPAT_SPARSE_SUPER) !== 0,
    needsRecovery: (incompat & INCOMPAT_RECOVER) !== 0 && (compat & COMPAT_HAS_JOURNAL) !== 0,
    journalInode: sb.readUInt32LE(0xe0),
    label: label || undefined,
  };
}

/** Finds each block group's inode table through the group descriptors, a descriptor block at a time. */
export class GroupDescriptors {
  private blocks = new Map<number, Buffer>();
  private readonly perBlock: number;

  constructor(
    private readonly src: BlockSource,
    private readonly sb: ExtSuperblock,
  ) {
    this.perBlock = sb.blockSize / sb.descSize;
  }

  async inodeTableBlock(group: number): Promise<number> {
    const { sb } = this;
    if (group >= sb.groupCount) throw damaged(`ext group descriptor ${group}: there are only ${sb.groupCount} groups`);
    const index = Math.floor(group / this.perBlock);
    let buf = this.blocks.get(index);
    if (!buf) {
      const block = this.descriptorBlock(index);
      if (block >= sb.blocksCount) throw damaged(`ext group descriptor block ${index}: block ${block} is past the end of the volume`);
      buf = await readVolume(this.src, block * sb.blockSize, sb.blockSize, `ext group descriptor block ${block}`);
      this.blocks.set(index, buf);
    }
    const at = (group % this.perBlock) * sb.descSize;
    const table = buf.readUInt32LE(at + 0x8) + (sb.descSize >= 64 ? buf.readUInt32LE(at + 0x28) * 2 ** 32 : 0);
    if (table === 0 || table >= sb.blocksCount) throw damaged(`ext group descriptor ${group}: inode table block ${table} is outside the volume`);
    return table;
  }

  private descriptorBlock(index: number): number {
    const { sb } = this;
    if (!sb.metaBg || index < sb.firstMetaBg) return sb.firstDataBlock + 1 + index;
    // meta_bg: each meta group keeps its descriptors in its own first group, after any superblock copy.
    const group = index * this.perBlock;
    const groupStart = sb.firstDataBlock + group * sb.blocksPerGroup;
    return groupStart + (this.hasSuperblock(group) ? 1 : 0);
  }

  private hasSuperblock(group: number): boolean {
    if (!this.sb.sparseSuper || group <= 1) return true;
    for (const base of [3, 5, 7]) {
      let n = base;
      while (n < group) n *= base;
      if (n === group) return true;
    }
    return false;
  }
}
