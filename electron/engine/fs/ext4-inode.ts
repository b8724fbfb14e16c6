import type { BlockSource } from '../block-source.js';
import { damaged } from '../errors.js';
import type { ExtSuperblock, GroupDescriptors } from './ext4-superblock.js';
import type { FileType } from './types.js';
import { readVolume } from './volume-read.js';

export const FLAG_EXTENTS = 0x80000;
export const FLAG_INLINE_DATA = 0x10000000;

/** One ext inode, decoded. `raw` is the whole on-disk inode; `diskOffset` where it lives. */
export interface ExtInode {
  ino: number;
  raw: Buffer;
  diskOffset: number;
  mode: number;
  type: FileType;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  flags: number;
  blocks512: number;
  fileAcl: number;
  atimeUs: number;
  ctimeUs: number;
  mtimeUs: number;
  iBlock: Buffer;
  extraIsize: number;
}

const CHUNK = 64 * 1024;
const CACHE_CHUNKS = 256;

/** Reads inodes through a small cache of 64 KiB pieces of the inode tables. */
export class InodeTable {
  private chunks = new Map<number, Buffer>();
  private tableBlocks = new Map<number, number>();

  constructor(
    private readonly src: BlockSource,
    private readonly sb: ExtSuperblock,
    private readonly groups: GroupDescriptors,
  ) {}

  /** The inode when its piece of the table is cached: listing a big directory stays synchronous. */
  cached(ino: number): ExtInode | undefined {
    const { sb } = this;
    if (!Number.isInteger(ino) || ino < 1 || ino > sb.inodesCount) return undefined;
    const group = Math.floor((ino - 1) / sb.inodesPerGroup);
    const table = this.tableBlocks.get(group);
    if (table === undefined) return undefined;
    const tableStart = table * sb.blockSize;
    const within = ((ino - 1) % sb.inodesPerGroup) * sb.inodeSize;
    const chunkStart = tableStart + Math.floor(within / CHUNK) * CHUNK;
    const chunk = this.chunks.get(chunkStart);
    const at = tableStart + within - chunkStart;
    if (!chunk || at + sb.inodeSize > chunk.length) return undefined;
    return decodeInode(ino, chunk.subarray(at, at + sb.inodeSize), tableStart + within);
  }

  async read(ino: number): Promise<ExtInode> {
    const { sb } = this;
    if (!Number.isInteger(ino) || ino < 1 || ino > sb.inodesCount) throw damaged(`inode number ${ino} is outside 1..${sb.inodesCount}`);
    const group = Math.floor((ino - 1) / sb.inodesPerGroup);
    const index = (ino - 1) % sb.inodesPerGroup;
    const table = await this.groups.inodeTableBlock(group);
    this.tableBlocks.set(group, table);
    const tableStart = table * sb.blockSize;
    const tableLength = sb.inodesPerGroup * sb.inodeSize;
    const within = index * sb.inodeSize;
    const chunkStart = tableStart + Math.floor(within / CHUNK) * CHUNK;
    let chunk = this.chunks.get(chunkStart);
    if (!chunk) {
      const length = Math.min(CHUNK, tableStart + tableLength - chunkStart, this.src.size - chunkStart);
      if (length < sb.inodeSize) throw damaged(`inode ${ino}: its inode table at block ${tableStart / sb.blockSize} lies past the end of the volume`);
      chunk = await readVolume(this.src, chunkStart, length, `inode table of group ${group}`);
      if (this.chunks.size >= CACHE_CHUNKS) this.chunks.delete(this.chunks.keys().next().value as number);
      this.chunks.set(chunkStart, chunk);
    }
    const at = tableStart + within - chunkStart;
    if (at + sb.inodeSize > chunk.length) throw damaged(`inode ${ino}: it lies past the end of the volume`);
    return decodeInode(ino, chunk.subarray(at, at + sb.inodeSize), tableStart + within);
  }
}

function decodeInode(ino: number, raw: Buffer, diskOffset: number): ExtInode {
  const mode = raw.readUInt16LE(0);
  const sizeHigh = raw.readUInt32LE(108);
  if (sizeHigh >= 2 ** 21) throw damaged(`inode ${ino}: size ${sizeHigh} * 2^32 bytes is impossible`);
  const extraIsize = raw.length > 128 ? raw.readUInt16LE(128) : 0;
  if (extraIsize > raw.length - 128 || extraIsize % 4 !== 0) throw damaged(`inode ${ino}: extra inode size ${extraIsize} does not fit the ${raw.length}-byte inode`);
  const extra = (offset: number) => (extraIsize >= offset - 128 + 4 ? raw.readUInt32LE(offset) : 0);
  return {
    ino,
    raw,
    diskOffset,
    mode,
    type: typeOf(mode),
    uid: raw.readUInt16LE(2) | (raw.readUInt16LE(120) << 16),
    gid: raw.readUInt16LE(24) | (raw.readUInt16LE(122) << 16),
    size: raw.readUInt32LE(4) + sizeHigh * 2 ** 32,
    nlink: raw.readUInt16LE(26),
    flags: raw.readUInt32LE(32),
    blocks512: raw.readUInt32LE(28) + raw.readUInt16LE(116) * 2 ** 32,
    fileAcl: raw.readUInt32LE(104) + raw.readUInt16LE(118) * 2 ** 32,
    atimeUs: timeUs(raw.readInt32LE(8), extra(140)),
    ctimeUs: timeUs(raw.readInt32LE(12), extra(132)),
    mtimeUs: timeUs(raw.readInt32LE(16), extra(136)),
    iBlock: raw.subarray(40, 100),
    extraIsize,
  };
}

/** Seconds plus the extra field: two more epoch bits, then nanoseconds in the upper 30 bits. */
function timeUs(seconds: number, extra: number): number {
  const epoch = extra & 3;
  const nanos = extra >>> 2;
  return (seconds + epoch * 2 ** 32) * 1_000_000 + Math.floor(Math.min(nanos, 999_999_999) / 1000);
}

function typeOf(mode: number): FileType {
  switch (mode & 0xf000) {
    case 0x8000:
      return 'file';
    case 0x4000:
      return 'dir';
    case 0xa000:
      return 'symlink';
    default:
      return 'other';
  }
}

/**
 * The value of the in-inode extended attribute system.data (inline data's overflow),
 * as its offset within the inode and length; undefined when it is absent.
 */
export function inlineDataAttr(inode: ExtInode): { offset: number; length: number } | undefined {
  const { raw } = inode;
  const base = 128 + inode.extraIsize;
  if (base + 4 > raw.length || raw.readUInt32LE(base) !== 0xea020000) return undefined;
  const entries = base + 4;
  let p = entries;
  while (p + 16 <= raw.length && raw.readUInt32LE(p) !== 0) {
    const nameLen = raw[p]!;
    const nameIndex = raw[p + 1]!;
    const valueOffs = raw.readUInt16LE(p + 2);
    const valueInum = raw.readUInt32LE(p + 4);
    const valueSize = raw.readUInt32LE(p + 8);
    if (p + 16 + nameLen > raw.length) break;
    const name = raw.toString('latin1', p + 16, p + 16 + nameLen);
    if (nameIndex === 7 && name === 'data' && valueInum === 0) {
      if (entries + valueOffs + valueSize > raw.length) throw damaged(`inode ${inode.ino}: inline data attribute runs past the inode`);
      return { offset: entries + valueOffs, length: valueSize };
    }
    p += (16 + nameLen + 3) & ~3;
  }
  return undefined;
}
