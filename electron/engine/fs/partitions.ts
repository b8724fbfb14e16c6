import { SliceSource, type BlockSource } from '../block-source.js';
import { damaged, notFound, usageError } from '../errors.js';
import { parseExfatBoot } from './exfat.js';
import { parseFatBoot } from './fat-table.js';
import { findGptSectorSize, readGpt } from './gpt.js';
import { hasProtectiveMbr, looksLikeMbr, readMbr } from './mbr.js';
import type { Volume } from './partition-types.js';

export type { Volume } from './partition-types.js';

/** The partitions of a disk: GPT (primary, or its backup), else MBR with logical partitions, else the whole disk. */
export async function readPartitionTable(src: BlockSource): Promise<Volume[]> {
  const whole: Volume[] = [{ number: 0, table: 'none', type: 'disk', offset: 0, size: src.size }];
  if (src.size < 512) return whole;
  const sector0 = await src.read(0, 512);
  const gptSector = await findGptSectorSize(src);
  if (gptSector !== undefined) return readGpt(src, gptSector);
  if (hasProtectiveMbr(sector0)) throw damaged('partition table: a protective MBR announces a GPT, but there is no GPT header at LBA 1');
  // A FAT, exFAT or NTFS boot sector also ends in 0x55AA; a filesystem there means no table.
  if (!looksLikeMbr(sector0) || isBootSector(sector0)) return whole;
  return readMbr(src, sector0);
}

function isBootSector(sector0: Buffer): boolean {
  if (sector0.toString('latin1', 3, 11) === 'NTFS    ') return true;
  for (const parse of [parseFatBoot, parseExfatBoot]) {
    try {
      parse(sector0);
      return true;
    } catch {
      // not this kind
    }
  }
  return false;
}

/**
 * The volume a user names as DISK (spec undefined: the whole disk, or its only
 * partition) or DISK:N (partition N; 0 is the whole disk).
 */
export async function openVolume(src: BlockSource, spec?: number): Promise<SliceSource> {
  if (spec === 0) return new SliceSource(src, 0, src.size);
  const volumes = await readPartitionTable(src);
  if (spec === undefined) {
    const real = volumes.filter((v) => v.type !== 'extended');
    if (real.length === 1) return openVolume(src, real[0]!.number === 0 ? 0 : real[0]!.number);
    if (real.length === 0) throw notFound('the disk has a partition table with no partitions');
    throw usageError(`the disk has ${real.length} partitions (${real.map((v) => v.number).join(', ')}): name one as DISK:N`);
  }
  const found = volumes.find((v) => v.number === spec && v.table !== 'none');
  if (!found) {
    const have = volumes.filter((v) => v.table !== 'none').map((v) => v.number);
    throw notFound(`partition ${spec} does not exist on this disk (${have.length ? `it has ${have.join(', ')}` : 'it has no partition table'})`);
  }
  if (found.offset >= src.size || found.size === 0) {
    throw damaged(`partition ${spec} starts at byte ${found.offset}, past the end of the ${src.size}-byte disk (a truncated image?)`);
  }
  return new SliceSource(src, found.offset, found.size);
}
