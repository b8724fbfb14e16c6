import type { BlockSource } from '../block-source.js';
import { damaged, notFound } from '../errors.js';
import type { DataRun } from './tree-reader.js';
import { readVolume } from './volume-read.js';

/** Where everything of a FAT12/16/32 volume lies, from its boot sector's BPB. */
export interface FatGeometry {
  bits: 12 | 16 | 32;
  bytesPerSector: number;
  clusterSize: number;
  /** Byte offset and length of the FAT in use. */
  fatOffset: number;
  fatBytes: number;
  /** FAT12/16: the fixed root directory region. */
  rootDirOffset: number;
  rootDirBytes: number;
  /** FAT32: the root directory's first cluster. */
  rootCluster: number;
  dataOffset: number;
  clusterCount: number;
  bpbLabel?: string;
  /** exFAT keeps all 32 bits of each entry (FAT32 only 28). */
  exfat?: boolean;
}

/** Parses a boot sector; 'not-found' when it is no FAT boot sector, 'damaged' when its numbers cannot be. */
export function parseFatBoot(boot: Buffer): FatGeometry {
  const jumpOk = boot[0] === 0xe9 || (boot[0] === 0xeb && boot[2] === 0x90);
  const oem = boot.toString('latin1', 3, 11);
  if (!jumpOk || oem === 'EXFAT   ' || oem === 'NTFS    ') throw notFound('no FAT boot sector');
  const bytesPerSector = boot.readUInt16LE(0x0b);
  const secPerClus = boot[0x0d]!;
  const reserved = boot.readUInt16LE(0x0e);
  const numFats = boot[0x10]!;
  const rootEntries = boot.readUInt16LE(0x11);
  const totSec = boot.readUInt16LE(0x13) || boot.readUInt32LE(0x20);
  const fatSz16 = boot.readUInt16LE(0x16);
  const fatSz = fatSz16 || boot.readUInt32LE(0x24);
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (![512, 1024, 2048, 4096].includes(bytesPerSector) || !pow2(secPerClus) || reserved === 0 || numFats === 0 || numFats > 4 || totSec === 0 || fatSz === 0) {
    throw notFound('no FAT BIOS parameter block');
  }
  const bad = (why: string) => damaged(`FAT boot sector: ${why}`);
  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const dataSector = reserved + numFats * fatSz + rootDirSectors;
  if (dataSector >= totSec) throw bad(`the data area starts at sector ${dataSector}, past the ${totSec} sectors of the volume`);
  const clusterCount = Math.floor((totSec - dataSector) / secPerClus);
  const bits = clusterCount < 4085 ? 12 : clusterCount < 65525 ? 16 : 32;
  if (bits === 32 && (fatSz16 !== 0 || rootEntries !== 0)) throw bad(`${clusterCount} clusters need FAT32 but the BPB is FAT12/16`);
  if (bits !== 32 && rootEntries === 0) throw bad('a FAT12/16 volume without root directory entries');
  if (Math.ceil(((clusterCount + 2) * bits) / 8) > fatSz * bytesPerSector) throw bad(`a ${fatSz}-sector FAT cannot hold ${clusterCount} clusters`);
  // FAT32 may run with mirroring off and one active FAT (BPB_ExtFlags).
  const extFlags = bits === 32 ? boot.readUInt16LE(0x28) : 0;
  const activeFat = extFlags & 0x80 ? extFlags & 0xf : 0;
  if (activeFat >= numFats) throw bad(`active FAT ${activeFat} of ${numFats}`);
  const labelAt = bits === 32 ? 0x47 : 0x2b;
  const sigAt = bits === 32 ? 0x42 : 0x26;
  const label = boot[sigAt] === 0x29 ? boot.toString('latin1', labelAt, labelAt + 11).trimEnd() : '';
  return {
    bits,
    bytesPerSector,
    clusterSize: secPerClus * bytesPerSector,
    fatOffset: (reserved + activeFat * fatSz) * bytesPerSector,
    fatBytes: fatSz * bytesPerSector,
    rootDirOffset: (reserved + numFats * fatSz) * bytesPerSector,
    rootDirBytes: rootDirSectors * bytesPerSector,
    rootCluster: bits === 32 ? boot.readUInt32LE(0x2c) : 0,
    dataOffset: dataSector * bytesPerSector,
    clusterCount,
    bpbLabel: label && label !== 'NO NAME' ? label : undefined,
  };
}

const CHUNK = 64 * 1024;
const CACHE_CHUNKS = 256;

/** The file allocation table, read in 64 KiB pieces and cached; cluster chains as data runs. */
export class FatTable {
  private chunks = new Map<number, Buffer>();
  private readonly eoc: number;
  private readonly mask: number;

  constructor(
    private readonly src: BlockSource,
    private readonly geo: FatGeometry,
  ) {
    this.eoc = geo.bits === 12 ? 0xff8 : geo.bits === 16 ? 0xfff8 : geo.exfat ? 0xfffffff8 : 0x0ffffff8;
    this.mask = geo.exfat ? 0xffffffff : 0x0fffffff;
  }

  clusterOffset(cluster: number): number {
    return this.geo.dataOffset + (cluster - 2) * this.geo.clusterSize;
  }

  validCluster(cluster: number): boolean {
    return cluster >= 2 && cluster <= this.geo.clusterCount + 1;
  }

  /**
   * The runs of a chain from `first`: `size` bytes of it, or for size undefined (a
   * directory) the whole chain. A chain longer than the volume has clusters is a loop.
   */
  async runs(first: number, size: number | undefined, what: string): Promise<DataRun[]> {
    const { clusterSize, clusterCount } = this.geo;
    const runs: DataRun[] = [];
    if (size === 0) return runs;
    const want = size === undefined ? Infinity : Math.ceil(size / clusterSize);
    if (size !== undefined && want > clusterCount) throw damaged(`${what}: ${size} bytes need more clusters than the volume has`);
    let cluster = first;
    let count = 0;
    while (count < want) {
      if (!this.validCluster(cluster)) throw damaged(`${what}: cluster chain points at cluster ${cluster}, outside 2..${clusterCount + 1}`);
      if (++count > clusterCount) throw damaged(`${what}: the cluster chain loops`);
      const fileOffset = (count - 1) * clusterSize;
      const length = size === undefined ? clusterSize : Math.min(clusterSize, size - fileOffset);
      const last = runs[runs.length - 1];
      if (last && last.diskOffset! + last.length === this.clusterOffset(cluster) && last.length % clusterSize === 0) last.length += length;
      else runs.push({ fileOffset, length, diskOffset: this.clusterOffset(cluster) });
      if (count === want) break;
      const next = this.cachedEntry(cluster) ?? (await this.entry(cluster));
      if (next >= this.eoc) {
        if (size !== undefined) throw damaged(`${what}: the cluster chain ends after ${count} of ${want} clusters`);
        break;
      }
      cluster = next;
    }
    return runs;
  }

  /** The entry when its piece of the FAT is cached: walking a long chain stays synchronous. */
  private cachedEntry(cluster: number): number | undefined {
    const byte = this.entryByte(cluster);
    const chunkStart = Math.floor(byte / CHUNK) * CHUNK;
    const chunk = this.chunks.get(chunkStart);
    return chunk ? this.decode(chunk, byte - chunkStart, cluster) : undefined;
  }

  private async entry(cluster: number): Promise<number> {
    const byte = this.entryByte(cluster);
    const chunkStart = Math.floor(byte / CHUNK) * CHUNK;
    return this.decode(await this.chunk(chunkStart), byte - chunkStart, cluster);
  }

  private entryByte(cluster: number): number {
    const { bits } = this.geo;
    return bits === 12 ? cluster + (cluster >> 1) : cluster * (bits / 8);
  }

  private decode(chunk: Buffer, at: number, cluster: number): number {
    const { bits } = this.geo;
    if (at + (bits === 32 ? 4 : 2) > chunk.length) throw damaged(`FAT entry of cluster ${cluster} lies outside the FAT`);
    if (bits === 32) return (chunk.readUInt32LE(at) & this.mask) >>> 0;
    const pair = chunk.readUInt16LE(at);
    if (bits === 16) return pair;
    return cluster & 1 ? pair >> 4 : pair & 0xfff;
  }

  private async chunk(start: number): Promise<Buffer> {
    let chunk = this.chunks.get(start);
    if (!chunk) {
      // One byte of overlap: a FAT12 entry may straddle the end of a piece.
      const length = Math.min(CHUNK + 1, this.geo.fatBytes - start);
      chunk = await readVolume(this.src, this.geo.fatOffset + start, length, 'the file allocation table');
      if (this.chunks.size >= CACHE_CHUNKS) this.chunks.delete(this.chunks.keys().next().value as number);
      this.chunks.set(start, chunk);
    }
    return chunk;
  }
}
