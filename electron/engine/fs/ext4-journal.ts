import type { BlockSource } from '../block-source.js';
import { damaged } from '../errors.js';
import { BlockMapper } from './ext4-blockmap.js';
import { FLAG_EXTENTS, type ExtInode } from './ext4-inode.js';
import type { ExtSuperblock } from './ext4-superblock.js';
import type { DataRun } from './tree-reader.js';
import { readVolume } from './volume-read.js';

const JBD2_MAGIC = 0xc03b3998;
const DESCRIPTOR = 1;
const COMMIT = 2;
const REVOKE = 5;
const INCOMPAT_64BIT = 0x2;
const INCOMPAT_CSUM_V2 = 0x8;
const INCOMPAT_CSUM_V3 = 0x10;
const TAG_ESCAPE = 1;
const TAG_SAME_UUID = 2;
const TAG_LAST = 8;

/** A filesystem block whose newest committed copy sits in the journal. */
export interface JournalledBlock {
  diskOffset: number;
  /** The block began with the journal magic, which the journal stores as zeros. */
  escaped: boolean;
}

interface Transaction {
  sequence: number;
  writes: { block: number; copy: JournalledBlock }[];
  revoked: number[];
}

/**
 * What replaying the jbd2 journal would write: the latest committed copy of each block,
 * with revoked blocks left out. Read-only: nothing is written back. A transaction without
 * its commit block is ignored, as the kernel does. Fast commits are not read.
 */
export async function journalReplay(src: BlockSource, sb: ExtSuperblock, journal: ExtInode): Promise<Map<number, JournalledBlock>> {
  const bs = sb.blockSize;
  const mapper = new BlockMapper(src, sb, journal, 'the journal');
  const runs = journal.flags & FLAG_EXTENTS ? await mapper.extentRuns() : await mapper.indirectRuns();
  const where = (j: number) => diskOffsetOf(runs, j * bs, j);
  const jsb = await readVolume(src, where(0), bs, 'journal superblock');
  if (jsb.readUInt32BE(0) !== JBD2_MAGIC) throw damaged('journal superblock: bad magic');
  const maxlen = jsb.readUInt32BE(16);
  const first = jsb.readUInt32BE(20);
  let sequence = jsb.readUInt32BE(24);
  const start = jsb.readUInt32BE(28);
  const incompat = jsb.readUInt32BE(4) === 4 ? jsb.readUInt32BE(40) : 0;
  if (jsb.readUInt32BE(12) !== bs) throw damaged(`journal superblock: block size ${jsb.readUInt32BE(12)} differs from the filesystem's ${bs}`);
  if (first < 1 || first >= maxlen || maxlen > Math.ceil(journal.size / bs) || start >= maxlen) throw damaged(`journal superblock: log area ${first}..${maxlen} (start ${start}) is impossible`);
  const replay = new Map<number, JournalledBlock>();
  if (start === 0) return replay; // clean
  const csum3 = (incompat & INCOMPAT_CSUM_V3) !== 0;
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const tagBytes = csum3 ? 16 : 12 + (incompat & INCOMPAT_CSUM_V2 ? 2 : 0) - (is64 ? 0 : 4);
  const tail = incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3) ? 4 : 0;
  const next = (j: number) => (j + 1 >= maxlen ? first : j + 1);

  const committed: Transaction[] = [];
  let pending: Transaction = { sequence, writes: [], revoked: [] };
  let j = start;
  // The log can be no longer than the journal: every step consumes one journal block.
  for (let steps = 0; steps < maxlen; steps++, j = next(j)) {
    const block = await readVolume(src, where(j), bs, `journal block ${j}`);
    if (block.readUInt32BE(0) !== JBD2_MAGIC || block.readUInt32BE(8) !== sequence) break;
    const type = block.readUInt32BE(4);
    if (type === COMMIT) {
      committed.push(pending);
      pending = { sequence: ++sequence >>> 0, writes: [], revoked: [] };
    } else if (type === REVOKE) {
      const used = Math.min(block.readUInt32BE(12), bs);
      const size = is64 ? 8 : 4;
      for (let at = 16; at + size <= used; at += size) pending.revoked.push(is64 ? block.readUInt32BE(at) * 2 ** 32 + block.readUInt32BE(at + 4) : block.readUInt32BE(at));
    } else if (type === DESCRIPTOR) {
      for (let at = 12; at + tagBytes <= bs - tail; ) {
        const flags = csum3 ? block.readUInt32BE(at + 4) : block.readUInt16BE(at + 6);
        const target = block.readUInt32BE(at) + (is64 ? block.readUInt32BE(at + 8) * 2 ** 32 : 0);
        j = next(j);
        steps++;
        if (target >= sb.blocksCount) throw damaged(`journal descriptor at block ${j}: target block ${target} is outside the volume`);
        const copyAt = where(j);
        if (copyAt + bs > src.size) throw damaged(`journal block ${j}: it lies past the end of the volume`);
        pending.writes.push({ block: target, copy: { diskOffset: copyAt, escaped: (flags & TAG_ESCAPE) !== 0 } });
        at += tagBytes + (flags & TAG_SAME_UUID ? 0 : 16);
        if (flags & TAG_LAST) break;
      }
    } else break;
  }
  // Later revokes cancel earlier writes of the same block; later writes win.
  const revokedUpTo = new Map<number, number>();
  for (const t of committed) for (const b of t.revoked) revokedUpTo.set(b, t.sequence);
  for (const t of committed) {
    for (const w of t.writes) {
      const r = revokedUpTo.get(w.block);
      if (r !== undefined && seqAtLeast(r, t.sequence)) continue;
      replay.set(w.block, w.copy);
    }
  }
  return replay;
}

/** Sequence numbers wrap at 2^32. */
const seqAtLeast = (a: number, b: number) => ((a - b) | 0) >= 0;

function diskOffsetOf(runs: DataRun[], offset: number, j: number): number {
  for (const r of runs) {
    if (offset >= r.fileOffset && offset < r.fileOffset + r.length && r.diskOffset !== null) return r.diskOffset + (offset - r.fileOffset);
  }
  throw damaged(`journal block ${j} is not mapped to the disk`);
}

/** A volume as it reads after journal replay, without writing anything. */
export class ReplayedSource implements BlockSource {
  readonly size: number;
  constructor(
    private readonly base: BlockSource,
    private readonly blockSize: number,
    private readonly blocks: Map<number, JournalledBlock>,
  ) {
    this.size = base.size;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const base = await this.base.read(offset, length);
    if (length === 0) return base;
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + length - 1) / bs);
    let out: Buffer | undefined;
    for (let b = first; b <= last; b++) {
      const copy = this.blocks.get(b);
      if (!copy) continue;
      let data = await readVolume(this.base, copy.diskOffset, bs, `journal copy of block ${b}`);
      if (copy.escaped) {
        data = Buffer.from(data);
        data.writeUInt32BE(JBD2_MAGIC, 0);
      }
      out ??= Buffer.from(base); // never patch a buffer the base may share
      const from = Math.max(offset, b * bs);
      const to = Math.min(offset + length, (b + 1) * bs);
      data.copy(out, from - offset, from - b * bs, to - b * bs);
    }
    return out ?? base;
  }
}
