import type { BlockSource } from '../block-source.js';
import { ChronodiskError, damaged } from '../errors.js';
import { BlockMapper } from './ext4-blockmap.js';
import { journalReplay, ReplayedSource } from './ext4-journal.js';
import { FLAG_EXTENTS, FLAG_INLINE_DATA, InodeTable, inlineDataAttr, type ExtInode } from './ext4-inode.js';
import { GroupDescriptors, readExtSuperblock, type ExtSuperblock } from './ext4-superblock.js';
import { TreeReader, type DataRun, type TreeNode } from './tree-reader.js';
import type { FileStat, FileSystemKind } from './types.js';
import { readVolume } from './volume-read.js';

interface ExtNode extends TreeNode {
  inode: ExtInode;
}

/** An entry whose inode cannot be read: listed as 'other', and throwing its error when used. */
function damagedNode(name: string, ino: number, error: Error): ExtNode {
  const stat: FileStat = { name, type: 'other', size: 0, mtimeUs: 0, mode: 0, uid: 0, gid: 0, ino, nlink: 0 };
  return { stat, error, inode: undefined as unknown as ExtInode };
}

const ROOT_INO = 2;
const DIR_READ_CHUNK = 1024 * 1024;
const MAX_SYMLINK = 65536;

/**
 * ext2, ext3 and ext4 read in-process: extent trees and indirect blocks, linear directory
 * reads (htree index blocks look like empty entries), inline data, fast and slow symlinks.
 * A journal left with committed transactions is replayed in memory (see open).
 */
export class Ext4Reader extends TreeReader<ExtNode> {
  readonly kind: FileSystemKind;
  readonly label?: string;
  readonly blockSize: number;
  private readonly inodes: InodeTable;

  private constructor(
    src: BlockSource,
    private readonly sb: ExtSuperblock,
    /** Whether committed journal transactions were applied (in memory) before reading. */
    readonly journal: 'clean' | 'replayed' | 'unreadable',
  ) {
    super(src);
    this.kind = sb.kind;
    this.label = sb.label;
    this.blockSize = sb.blockSize;
    this.inodes = new InodeTable(src, sb, new GroupDescriptors(src, sb));
  }

  /**
   * A volume that was not cleanly unmounted (any time image of a mounted filesystem) reads
   * as the kernel would mount it: with the journal's committed transactions replayed in
   * memory. A journal that cannot be read leaves the checkpointed state.
   */
  static async open(src: BlockSource): Promise<Ext4Reader> {
    const sb = await readExtSuperblock(src);
    if (!sb.needsRecovery || sb.journalInode === 0) return new Ext4Reader(src, sb, 'clean');
    try {
      const inodes = new InodeTable(src, sb, new GroupDescriptors(src, sb));
      const replay = await journalReplay(src, sb, await inodes.read(sb.journalInode));
      return new Ext4Reader(new ReplayedSource(src, sb.blockSize, replay), sb, 'replayed');
    } catch (e) {
      if (!(e instanceof ChronodiskError)) throw e;
      return new Ext4Reader(src, sb, 'unreadable');
    }
  }

  protected async rootNode(): Promise<ExtNode> {
    const inode = await this.inodes.read(ROOT_INO);
    if (inode.type !== 'dir') throw damaged(`ext root inode 2 is not a directory (mode ${inode.mode.toString(8)})`);
    return this.node('/', inode);
  }

  protected async childrenOf(dir: ExtNode, path: string): Promise<ExtNode[]> {
    const out: ExtNode[] = [];
    for (const { name, ino } of await this.dirEntries(dir.inode, path)) {
      try {
        out.push(this.node(name, this.inodes.cached(ino) ?? (await this.inodes.read(ino))));
      } catch (e) {
        if (!(e instanceof ChronodiskError)) throw e;
        out.push(damagedNode(name, ino, e));
      }
    }
    return out;
  }

  protected runsOf(file: ExtNode, path: string): Promise<DataRun[]> {
    const { inode } = file;
    if (inode.flags & FLAG_INLINE_DATA) return Promise.resolve(this.inlineRuns(inode));
    const mapper = new BlockMapper(this.src, this.sb, inode, path);
    return inode.flags & FLAG_EXTENTS ? mapper.extentRuns() : mapper.indirectRuns();
  }

  protected async linkTargetOf(link: ExtNode, path: string): Promise<string> {
    const { inode } = link;
    if (inode.size > MAX_SYMLINK) throw damaged(`symlink ${path} (inode ${inode.ino}): target length ${inode.size} is impossible`);
    if (this.isFastSymlink(inode)) return inode.iBlock.toString('utf8', 0, inode.size);
    return (await this.readNode(link, path, 0, inode.size)).toString('utf8');
  }

  private isFastSymlink(inode: ExtInode): boolean {
    if (inode.flags & FLAG_INLINE_DATA || inode.size >= 60) return false;
    if (inode.flags & FLAG_EXTENTS) return inode.iBlock.readUInt16LE(0) !== 0xf30a;
    const aclBlocks = inode.fileAcl ? this.sb.blockSize / 512 : 0;
    return inode.blocks512 <= aclBlocks;
  }

  /** Inline data: the first 60 bytes sit in i_block, the rest in the system.data attribute. */
  private inlineRuns(inode: ExtInode): DataRun[] {
    const runs: DataRun[] = [];
    const head = Math.min(inode.size, 60);
    if (head > 0) runs.push({ fileOffset: 0, length: head, diskOffset: inode.diskOffset + 40 });
    const attr = inlineDataAttr(inode);
    const tail = Math.min(inode.size - head, attr?.length ?? 0);
    if (attr && tail > 0) runs.push({ fileOffset: 60, length: tail, diskOffset: inode.diskOffset + attr.offset });
    return runs;
  }

  private async dirEntries(dir: ExtInode, path: string): Promise<{ name: string; ino: number }[]> {
    const out: { name: string; ino: number }[] = [];
    if (dir.flags & FLAG_INLINE_DATA) {
      // Inline directory: i_block starts with the parent's inode number, entries follow.
      this.parseEntries(dir.iBlock.subarray(4), `inline directory ${path}`, out);
      const attr = inlineDataAttr(dir);
      if (attr && attr.length > 0) this.parseEntries(dir.raw.subarray(attr.offset, attr.offset + attr.length), `inline directory ${path}`, out);
      return out;
    }
    const mapper = new BlockMapper(this.src, this.sb, dir, path);
    const runs = dir.flags & FLAG_EXTENTS ? await mapper.extentRuns() : await mapper.indirectRuns();
    const bs = this.sb.blockSize;
    for (const run of runs) {
      const whole = run.length - (run.length % bs);
      for (let off = 0; off < whole; off += DIR_READ_CHUNK) {
        const len = Math.min(DIR_READ_CHUNK, whole - off);
        const buf = await readVolume(this.src, run.diskOffset! + off, len, `directory ${path}`);
        for (let b = 0; b < len; b += bs) {
          const block = (run.diskOffset! + off + b) / bs;
          this.parseEntries(buf.subarray(b, b + bs), `directory ${path} block ${block}`, out);
        }
      }
    }
    return out;
  }

  private parseEntries(buf: Buffer, where: string, out: { name: string; ino: number }[]): void {
    let pos = 0;
    while (pos + 8 <= buf.length) {
      const ino = buf.readUInt32LE(pos);
      const recLen = this.recLen(buf.readUInt16LE(pos + 4));
      const nameLen = this.sb.fileType ? buf[pos + 6]! : buf.readUInt16LE(pos + 6);
      if (recLen < 8 || recLen % 4 !== 0 || pos + recLen > buf.length || 8 + nameLen > recLen) {
        throw damaged(`directory entry at ${where} offset ${pos}: record length ${recLen} with name length ${nameLen} is impossible`);
      }
      if (ino !== 0 && nameLen > 0) {
        const name = buf.toString('utf8', pos + 8, pos + 8 + nameLen);
        if (name !== '.' && name !== '..') {
          if (ino > this.sb.inodesCount) throw damaged(`directory entry ${name} at ${where}: inode ${ino} is outside 1..${this.sb.inodesCount}`);
          if (name.includes('/') || name.includes('\0')) throw damaged(`directory entry at ${where} offset ${pos}: the name contains '/' or NUL`);
          out.push({ name, ino });
        }
      }
      pos += recLen;
    }
  }

  /** On 64 KiB-block volumes a record length of 65536 does not fit 16 bits and is stored specially. */
  private recLen(stored: number): number {
    if (this.sb.blockSize < 65536) return stored;
    if (stored === 65535 || stored === 0) return 65536;
    return (stored & 65532) | ((stored & 3) << 16);
  }

  private node(name: string, inode: ExtInode): ExtNode {
    // No ext file maps more than 2^32 blocks: a larger size is damage (and would stream zeros for ever).
    if (inode.size > 2 ** 32 * this.sb.blockSize) throw damaged(`inode ${inode.ino} (${name}): size ${inode.size} is larger than ext allows`);
    const stat: FileStat = {
      name,
      type: inode.type,
      size: inode.type === 'file' || inode.type === 'symlink' || inode.type === 'dir' ? inode.size : 0,
      mtimeUs: inode.mtimeUs,
      atimeUs: inode.atimeUs,
      ctimeUs: inode.ctimeUs,
      mode: inode.mode,
      uid: inode.uid,
      gid: inode.gid,
      ino: inode.ino,
      nlink: inode.nlink,
    };
    return { stat, inode };
  }
}
