import type { BlockSource } from '../block-source.js';
import { damaged } from '../errors.js';
import { isExtendedType, mbrTypeName } from './partition-types.js';
import type { Volume } from './partition-types.js';

const SECTOR = 512;
const MAX_LOGICAL = 256;

interface MbrEntry {
  status: number;
  code: number;
  start: number;
  sectors: number;
}

function entries(sector: Buffer): MbrEntry[] {
  const out: MbrEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const at = 446 + i * 16;
    out.push({ status: sector[at]!, code: sector[at + 4]!, start: sector.readUInt32LE(at + 8), sectors: sector.readUInt32LE(at + 12) });
  }
  return out;
}

const hasSignature = (sector: Buffer) => sector.length >= 512 && sector[510] === 0x55 && sector[511] === 0xaa;

/** True when sector 0 carries an MBR partition table with at least one partition (boot flags sane). */
export function looksLikeMbr(sector0: Buffer): boolean {
  if (!hasSignature(sector0)) return false;
  const list = entries(sector0);
  return list.every((e) => e.status === 0 || e.status === 0x80) && list.some((e) => e.code !== 0 && e.sectors > 0);
}

export const hasProtectiveMbr = (sector0: Buffer) => hasSignature(sector0) && entries(sector0).some((e) => e.code === 0xee);

/** Primary partitions 1-4 by slot, and logical partitions from 5 along the chain of EBRs, as Linux numbers them. */
export async function readMbr(src: BlockSource, sector0: Buffer): Promise<Volume[]> {
  const volumes: Volume[] = [];
  const add = (number: number, code: number, startSector: number, sectors: number) => {
    const offset = startSector * SECTOR;
    const size = Math.max(0, Math.min(sectors * SECTOR, src.size - offset));
    volumes.push({ number, table: 'mbr', type: mbrTypeName(code), typeCode: `0x${code.toString(16).padStart(2, '0')}`, offset, size });
  };
  let extended: MbrEntry | undefined;
  entries(sector0).forEach((e, i) => {
    if (e.code === 0 || e.sectors === 0) return;
    add(i + 1, e.code, e.start, e.sectors);
    if (isExtendedType(e.code) && !extended) extended = e;
  });
  if (!extended) return volumes;
  let ebr = extended.start;
  let number = 5;
  const seen = new Set<number>();
  while (ebr !== 0) {
    if (seen.has(ebr) || seen.size >= MAX_LOGICAL) throw damaged(`MBR extended partition: the chain of logical partitions loops at sector ${ebr}`);
    seen.add(ebr);
    if ((ebr + 1) * SECTOR > src.size) throw damaged(`MBR extended partition: boot record at sector ${ebr} is past the end of the disk`);
    const sector = await src.read(ebr * SECTOR, SECTOR);
    if (!hasSignature(sector)) throw damaged(`MBR extended partition: boot record at sector ${ebr} has no 0x55AA signature`);
    const [logical, next] = entries(sector) as [MbrEntry, MbrEntry];
    if (logical.code !== 0 && logical.sectors > 0) add(number++, logical.code, ebr + logical.start, logical.sectors);
    ebr = isExtendedType(next.code) && next.sectors > 0 ? extended.start + next.start : 0;
  }
  return volumes;
}
