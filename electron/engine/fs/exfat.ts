import type { BlockSource } from '../block-source.js';
import { ChronodiskError, damaged, notFound } from '../errors.js';
import { FatTable, type FatGeometry } from './fat-table.js';
import { TreeReader, type DataRun, type TreeNode } from './tree-reader.js';
import type { FileSystemKind } from './types.js';
import { readVolume } from './volume-read.js';

interface ExfatNode extends TreeNode {
  firstCluster: number;
  /** Contiguous clusters with no FAT chain (the stream's NoFatChain flag). */
  contiguous: boolean;
  /** Bytes past ValidDataLength read as zeros. */
  validLength: number;
  allocated: number;
}

const ATTR_READ_ONLY = 0x01;
const ATTR_DIRECTORY = 0x10;
const FILE_INO_BASE = 2 ** 32;
/** The exFAT specification caps a directory at 256 MiB. */
const MAX_DIR_BYTES = 256 * 1024 * 1024;

/**
 * exFAT: directory entry sets (File 0x85, Stream Extension 0xC0, File Name 0xC1) with
 * their checksum verified, FAT chains and NoFatChain contiguous files, ValidDataLength,
 * timestamps with 10 ms increments and UTC offsets. Permissions are synthesised as on FAT.
 */
export class ExfatReader extends TreeReader<ExfatNode> {
  readonly kind: FileSystemKind = 'exfat';
  label?: string;
  readonly blockSize: number;
  protected override readonly caseInsensitive = true;
  private readonly fat: FatTable;

  private constructor(src: BlockSource, private readonly geo: FatGeometry) {
    super(src);
    this.blockSize = geo.clusterSize;
    this.fat = new FatTable(src, geo);
  }

  static async open(src: BlockSource): Promise<ExfatReader> {
    if (src.size < 512) throw notFound('no exFAT boot sector: the volume is smaller than one sector');
    const reader = new ExfatReader(src, parseExfatBoot(await src.read(0, 512)));
    try {
      reader.label = (await reader.entries(await reader.rootNode(), '/')).label;
    } catch (e) {
      if (!(e instanceof ChronodiskError)) throw e;
    }
    return reader;
  }

  protected rootNode(): Promise<ExfatNode> {
    const c = this.geo.rootCluster;
    return Promise.resolve({
      firstCluster: c,
      contiguous: false,
      validLength: 0,
      allocated: 0,
      stat: { name: '/', type: 'dir', size: 0, mtimeUs: 0, mode: 0o40755, uid: 0, gid: 0, ino: c, nlink: 1 },
    });
  }

  protected async childrenOf(dir: ExfatNode, path: string): Promise<ExfatNode[]> {
    return (await this.entries(dir, path)).nodes;
  }

  protected runsOf(file: ExfatNode, path: string): Promise<DataRun[]> {
    return this.dataRuns(file, file.validLength, `file ${path}`);
  }

  protected linkTargetOf(_link: ExfatNode, path: string): Promise<string> {
    return Promise.reject(damaged(`${path}: exFAT has no symbolic links`));
  }

  private async dataRuns(node: ExfatNode, length: number, what: string): Promise<DataRun[]> {
    if (length === 0) return [];
    if (!this.fat.validCluster(node.firstCluster)) throw damaged(`${what}: first cluster ${node.firstCluster} is outside the volume`);
    if (!node.contiguous) return this.fat.runs(node.firstCluster, length, what);
    const last = node.firstCluster + Math.ceil(length / this.geo.clusterSize) - 1;
    if (!this.fat.validCluster(last)) throw damaged(`${what}: ${length} contiguous bytes from cluster ${node.firstCluster} run past the volume`);
    return [{ fileOffset: 0, length, diskOffset: this.fat.clusterOffset(node.firstCluster) }];
  }

  private async entries(dir: ExfatNode, path: string): Promise<{ nodes: ExfatNode[]; label?: string }> {
    const what = `directory ${path}`;
    const isRoot = dir.stat.name === '/' && dir.firstCluster === this.geo.rootCluster;
    if (!isRoot && dir.allocated > MAX_DIR_BYTES) throw damaged(`${what}: ${dir.allocated} bytes is more than a directory can hold`);
    const runs = isRoot ? await this.fat.runs(dir.firstCluster, undefined, what) : await this.dataRuns(dir, dir.allocated, what);
    const parts: Buffer[] = [];
    let total = 0;
    for (const r of runs) {
      total += r.length;
      if (total > MAX_DIR_BYTES) throw damaged(`${what}: more than ${MAX_DIR_BYTES} bytes of entries`);
      parts.push(await readVolume(this.src, r.diskOffset!, r.length, what));
    }
    const buf = Buffer.concat(parts);
    // Where entry i lies on the volume, for stable ids.
    const diskOf = (i: number) => {
      let off = i;
      for (const r of runs) {
        if (off < r.length) return r.diskOffset! + off;
        off -= r.length;
      }
      return 0;
    };
    const nodes: ExfatNode[] = [];
    let label: string | undefined;
    for (let at = 0; at + 32 <= buf.length; ) {
      const type = buf[at]!;
      if (type === 0x00) break;
      if (type === 0x83) label = buf.toString('utf16le', at + 2, at + 2 + Math.min(buf[at + 1]!, 11) * 2);
      if (type !== 0x85) {
        at += 32;
        continue;
      }
      const count = buf[at + 1]!;
      const end = at + 32 * (count + 1);
      if (count < 2 || count > 18 || end > buf.length) throw damaged(`${what}: entry set at byte ${at} has ${count} secondary entries`);
      const set = buf.subarray(at, end);
      const node = this.node(set, diskOf(at), what);
      if (setChecksum(set) !== set.readUInt16LE(2)) {
        // Listed, so the rest of the directory stays browsable, but not trusted.
        node.error = damaged(`${what}: the entry set of ${node.stat.name} at byte ${at} fails its checksum`);
        node.stat = { ...node.stat, type: 'other', size: 0, mode: 0 };
      }
      nodes.push(node);
      at = end;
    }
    return { nodes, label };
  }

  private node(set: Buffer, entryOffset: number, what: string): ExfatNode {
    const stream = set.subarray(32, 64);
    if (stream[0] !== 0xc0) throw damaged(`${what}: entry set at byte ${entryOffset} lacks its stream extension`);
    const nameLength = stream[3]!;
    let name = '';
    for (let at = 64; at + 32 <= set.length && name.length < nameLength; at += 32) {
      if (set[at] !== 0xc1) break;
      name += set.toString('utf16le', at + 2, at + 32);
    }
    name = name.slice(0, nameLength);
    if (name.length !== nameLength || name === '' || name.includes('/') || name.includes('\0')) {
      throw damaged(`${what}: entry set at byte ${entryOffset} has a malformed name`);
    }
    const attrs = set.readUInt16LE(4);
    const isDir = (attrs & ATTR_DIRECTORY) !== 0;
    const validLength = Number(stream.readBigUInt64LE(8));
    const dataLength = Number(stream.readBigUInt64LE(24));
    const firstCluster = stream.readUInt32LE(20);
    let error: Error | undefined;
    if (!Number.isSafeInteger(dataLength) || validLength > dataLength) error = damaged(`${what}: ${name} has valid length ${validLength} of ${dataLength}`);
    else if (dataLength > this.geo.clusterCount * this.geo.clusterSize) error = damaged(`${what}: ${name} is ${dataLength} bytes, more than the volume holds`);
    if (error) {
      const stat = { name, type: 'other' as const, size: 0, mtimeUs: 0, mode: 0, uid: 0, gid: 0, ino: FILE_INO_BASE + entryOffset, nlink: 1 };
      return { firstCluster: 0, contiguous: false, validLength: 0, allocated: 0, stat, error };
    }
    return {
      firstCluster,
      contiguous: (stream[1]! & 0x2) !== 0,
      validLength,
      allocated: dataLength,
      stat: {
        name,
        type: isDir ? 'dir' : 'file',
        size: isDir ? 0 : dataLength,
        mtimeUs: exfatTimeUs(set.readUInt32LE(12), set[21]!, set[23]!),
        atimeUs: exfatTimeUs(set.readUInt32LE(16), 0, set[24]!),
        ctimeUs: exfatTimeUs(set.readUInt32LE(8), set[20]!, set[22]!),
        mode: isDir ? 0o40755 : attrs & ATTR_READ_ONLY ? 0o100444 : 0o100644,
        uid: 0,
        gid: 0,
        ino: isDir && firstCluster !== 0 ? firstCluster : FILE_INO_BASE + entryOffset,
        nlink: 1,
      },
    };
  }
}

export function parseExfatBoot(boot: Buffer): FatGeometry {
  if (boot.toString('latin1', 3, 11) !== 'EXFAT   ') throw notFound('no exFAT boot sector');
  const bad = (why: string) => damaged(`exFAT boot sector: ${why}`);
  const sectorShift = boot[108]!;
  const clusterShift = boot[109]!;
  if (sectorShift < 9 || sectorShift > 12 || clusterShift > 25 - sectorShift) throw bad(`sector shift ${sectorShift}, cluster shift ${clusterShift}`);
  const sector = 2 ** sectorShift;
  const fatOffset = boot.readUInt32LE(80);
  const fatLength = boot.readUInt32LE(84);
  const heapOffset = boot.readUInt32LE(88);
  const clusterCount = boot.readUInt32LE(92);
  const rootCluster = boot.readUInt32LE(96);
  const numFats = boot[110]!;
  if (numFats < 1 || numFats > 2) throw bad(`${numFats} FATs`);
  if (fatOffset === 0 || fatLength === 0 || heapOffset < fatOffset + fatLength * numFats) throw bad(`FAT at sector ${fatOffset} (${fatLength} sectors) overlaps the cluster heap at ${heapOffset}`);
  if (clusterCount === 0 || (clusterCount + 2) * 4 > fatLength * sector) throw bad(`a ${fatLength}-sector FAT cannot hold ${clusterCount} clusters`);
  if (rootCluster < 2 || rootCluster > clusterCount + 1) throw bad(`root directory cluster ${rootCluster} is outside the volume`);
  const activeFat = numFats === 2 && boot.readUInt16LE(106) & 1 ? 1 : 0;
  return {
    bits: 32,
    exfat: true,
    bytesPerSector: sector,
    clusterSize: sector * 2 ** clusterShift,
    fatOffset: (fatOffset + activeFat * fatLength) * sector,
    fatBytes: fatLength * sector,
    rootDirOffset: 0,
    rootDirBytes: 0,
    rootCluster,
    dataOffset: heapOffset * sector,
    clusterCount,
  };
}

function setChecksum(set: Buffer): number {
  let sum = 0;
  for (let i = 0; i < set.length; i++) {
    if (i === 2 || i === 3) continue;
    sum = (((sum & 1) << 15) | (sum >>> 1)) + set[i]!;
    sum &= 0xffff;
  }
  return sum;
}

/** Local date-time in 2 s steps, plus 10 ms steps, minus the UTC offset when one is recorded. */
function exfatTimeUs(ts: number, tenMs: number, utcOffset: number): number {
  const day = (ts >>> 16) & 31;
  const month = (ts >>> 21) & 15;
  if (day === 0 || month === 0 || month > 12) return 0;
  let ms = Date.UTC(1980 + (ts >>> 25), month - 1, day, (ts >>> 11) & 31, (ts >>> 5) & 63, (ts & 31) * 2) + Math.min(tenMs, 199) * 10;
  if (utcOffset & 0x80) {
    const quarters = utcOffset & 0x40 ? (utcOffset & 0x7f) - 128 : utcOffset & 0x7f;
    ms -= quarters * 15 * 60_000;
  }
  return ms * 1000;
}
