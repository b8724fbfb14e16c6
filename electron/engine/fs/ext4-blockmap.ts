import type { BlockSource } from '../block-source.js';
import { damaged } from '../errors.js';
import type { ExtInode } from './ext4-inode.js';
import type { ExtSuperblock } from './ext4-superblock.js';
import type { DataRun } from './tree-reader.js';
import { readVolume } from './volume-read.js';

const EXTENT_MAGIC = 0xf30a;
const MAX_DEPTH = 5;
const MAX_RUNS = 8_000_000;

/**
 * Maps a file's logical blocks to runs on the volume, through its extent tree (ext4) or
 * its direct and indirect block pointers (ext2/3). Every number from the disk is checked:
 * block numbers against the volume, extents for order and overlap, tree depth, and the
 * work done against the size of the volume, so that a damaged inode ends in a 'damaged'
 * error rather than a hang or an exhausted heap.
 */
export class BlockMapper {
  private runs: DataRun[] = [];
  private budget: number;
  private mapped = 0;

  constructor(
    private readonly src: BlockSource,
    private readonly sb: ExtSuperblock,
    private readonly inode: ExtInode,
    private readonly what: string,
  ) {
    this.budget = Math.min(sb.blocksCount, 1 << 22);
  }

  private get fileBlocks(): number {
    return Math.ceil(this.inode.size / this.sb.blockSize);
  }

  private fail(where: string, why: string): Error {
    return damaged(`${where} of ${this.what} (inode ${this.inode.ino}): ${why}`);
  }

  async extentRuns(): Promise<DataRun[]> {
    await this.extentNode(this.inode.iBlock, -1, 0, 2 ** 32, 'extent tree root');
    return this.runs;
  }

  async indirectRuns(): Promise<DataRun[]> {
    const ptrs = this.inode.iBlock;
    const perBlock = this.sb.blockSize / 4;
    let logical = 0;
    for (let i = 0; i < 12 && logical < this.fileBlocks; i++, logical++) this.addBlock(logical, ptrs.readUInt32LE(i * 4), 'direct block pointer');
    let span = perBlock;
    for (let level = 1; level <= 3 && logical < this.fileBlocks; level++) {
      await this.indirect(ptrs.readUInt32LE((11 + level) * 4), level, logical);
      logical += span;
      span *= perBlock;
    }
    return this.runs;
  }

  private async indirect(block: number, level: number, logical: number): Promise<void> {
    if (block === 0) return; // a hole covering the whole subtree
    if (--this.budget < 0) throw this.fail(`level-${level} indirect block ${block}`, 'more indirect blocks than the volume has blocks');
    const buf = await this.readBlock(block, `level-${level} indirect block ${block}`);
    const perBlock = this.sb.blockSize / 4;
    const span = perBlock ** (level - 1);
    for (let i = 0; i < perBlock && logical + i * span < this.fileBlocks; i++) {
      const ptr = buf.readUInt32LE(i * 4);
      if (level === 1) this.addBlock(logical + i, ptr, `indirect block ${block}`);
      else await this.indirect(ptr, level - 1, logical + i * span);
    }
  }

  private addBlock(logical: number, physical: number, where: string): void {
    if (physical === 0) return;
    this.addExtent(logical, physical, 1, where);
  }

  private async extentNode(node: Buffer, parentDepth: number, lo: number, hi: number, where: string): Promise<void> {
    if (node.length < 12 || node.readUInt16LE(0) !== EXTENT_MAGIC) throw this.fail(where, 'bad extent header magic');
    const entries = node.readUInt16LE(2);
    const max = node.readUInt16LE(4);
    const depth = node.readUInt16LE(6);
    if (max > (node.length - 12) / 12 || entries > max) throw this.fail(where, `${entries} of ${max} extent entries do not fit`);
    if (depth > MAX_DEPTH || (parentDepth >= 0 && depth !== parentDepth - 1)) throw this.fail(where, `extent depth ${depth} is impossible here`);
    let prev = -1;
    for (let i = 0; i < entries; i++) {
      const at = 12 + i * 12;
      const first = node.readUInt32LE(at);
      if (first <= prev || first < lo || first >= hi) throw this.fail(where, `extent entry ${i} starts at block ${first}, out of order`);
      prev = first;
      if (first >= this.fileBlocks) break; // beyond the end of the file (preallocated): nothing to read
      if (depth === 0) {
        const rawLen = node.readUInt16LE(at + 4);
        const unwritten = rawLen > 32768;
        const len = unwritten ? rawLen - 32768 : rawLen;
        const physical = node.readUInt16LE(at + 6) * 2 ** 32 + node.readUInt32LE(at + 8);
        if (len === 0 || first + len > hi) throw this.fail(where, `extent entry ${i} has length ${len}`);
        if (physical === 0 || physical + len > this.sb.blocksCount) throw this.fail(where, `extent ${first}+${len} points at block ${physical}, outside the volume`);
        if (!unwritten) this.addExtent(first, physical, len, where); // unwritten extents read as zeros
      } else {
        const child = node.readUInt32LE(at + 4) + node.readUInt16LE(at + 8) * 2 ** 32;
        const next = i + 1 < entries ? node.readUInt32LE(at + 12) : hi;
        if (--this.budget < 0) throw this.fail(where, 'the extent tree has more nodes than the volume has blocks');
        const buf = await this.readBlock(child, `extent index block ${child}`);
        await this.extentNode(buf, depth, first, Math.min(next, hi), `extent block ${child}`);
      }
    }
  }

  private addExtent(logical: number, physical: number, len: number, where: string): void {
    if (physical >= this.sb.blocksCount || physical + len > this.sb.blocksCount) {
      throw this.fail(where, `block ${physical} is past the end of the volume (${this.sb.blocksCount} blocks)`);
    }
    const bs = this.sb.blockSize;
    const fileOffset = logical * bs;
    const length = Math.min(len * bs, this.inode.size - fileOffset);
    if (length <= 0) return;
    this.mapped += len;
    if (this.mapped > this.sb.blocksCount) throw this.fail(where, 'the file maps more blocks than the volume has');
    const last = this.runs[this.runs.length - 1];
    if (last && last.fileOffset + last.length > fileOffset) throw this.fail(where, `extents overlap at block ${logical}`);
    if (last && last.diskOffset !== null && last.fileOffset + last.length === fileOffset && last.diskOffset + last.length === physical * bs) {
      last.length += length;
      return;
    }
    if (this.runs.length >= MAX_RUNS) throw this.fail(where, `more than ${MAX_RUNS} fragments`);
    this.runs.push({ fileOffset, length, diskOffset: physical * bs });
  }

  private readBlock(block: number, what: string): Promise<Buffer> {
    if (block === 0 || block >= this.sb.blocksCount) return Promise.reject(this.fail(what, `block ${block} is outside the volume`));
    return readVolume(this.src, block * this.sb.blockSize, this.sb.blockSize, `${what} of ${this.what}`);
  }
}
