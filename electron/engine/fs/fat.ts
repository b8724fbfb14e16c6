import type { BlockSource } from '../block-source.js';
import { ChronodiskError, damaged, notFound } from '../errors.js';
import { FatTable, parseFatBoot, type FatGeometry } from './fat-table.js';
import { TreeReader, type DataRun, type TreeNode } from './tree-reader.js';
import type { FileSystemKind } from './types.js';
import { readVolume } from './volume-read.js';

interface FatNode extends TreeNode {
  firstCluster: number;
  /** The FAT12/16 root lives in its own fixed region, not in clusters. */
  fixedRoot?: boolean;
}

const ATTR_READ_ONLY = 0x01;
const ATTR_VOLUME_ID = 0x08;
const ATTR_DIRECTORY = 0x10;
const ATTR_LFN = 0x0f;
/** Files are identified by where their directory entry lies; directories by their first cluster. */
const FILE_INO_BASE = 2 ** 32;

/**
 * FAT12/16/32 with VFAT long names. FAT stores local time without a zone; this reader
 * reads it as UTC (so a volume written with TZ=UTC reads back exactly). There are no
 * owners, links or permissions: directories read as 0755, files as 0644 (0444 when
 * read-only), owner 0.
 */
export class FatReader extends TreeReader<FatNode> {
  readonly kind: FileSystemKind;
  label?: string;
  readonly blockSize: number;
  protected override readonly caseInsensitive = true;
  private readonly fat: FatTable;

  private constructor(src: BlockSource, private readonly geo: FatGeometry) {
    super(src);
    this.kind = `fat${geo.bits}`;
    this.blockSize = geo.clusterSize;
    this.fat = new FatTable(src, geo);
    this.label = geo.bpbLabel;
  }

  static async open(src: BlockSource): Promise<FatReader> {
    if (src.size < 512) throw notFound('no FAT boot sector: the volume is smaller than one sector');
    const reader = new FatReader(src, parseFatBoot(await src.read(0, 512)));
    try {
      // The label in the root directory wins over the boot sector's copy, as Windows does it.
      const root = await reader.rootNode();
      const label = (await reader.entries(root, '/')).label;
      if (label) reader.label = label;
    } catch (e) {
      if (!(e instanceof ChronodiskError)) throw e;
    }
    return reader;
  }

  protected rootNode(): Promise<FatNode> {
    const { geo } = this;
    const fixedRoot = geo.bits !== 32;
    return Promise.resolve({
      firstCluster: fixedRoot ? 0 : geo.rootCluster,
      fixedRoot,
      stat: { name: '/', type: 'dir', size: 0, mtimeUs: 0, mode: 0o40755, uid: 0, gid: 0, ino: fixedRoot ? 1 : geo.rootCluster, nlink: 1 },
    });
  }

  protected async childrenOf(dir: FatNode, path: string): Promise<FatNode[]> {
    return (await this.entries(dir, path)).nodes;
  }

  protected runsOf(file: FatNode, path: string): Promise<DataRun[]> {
    if (file.stat.size === 0) return Promise.resolve([]);
    return this.fat.runs(file.firstCluster, file.stat.size, `file ${path}`);
  }

  protected linkTargetOf(_link: FatNode, path: string): Promise<string> {
    return Promise.reject(damaged(`${path}: FAT has no symbolic links`));
  }

  private async entries(dir: FatNode, path: string): Promise<{ nodes: FatNode[]; label?: string }> {
    let runs: DataRun[];
    if (dir.fixedRoot) runs = [{ fileOffset: 0, length: this.geo.rootDirBytes, diskOffset: this.geo.rootDirOffset }];
    else if (!this.fat.validCluster(dir.firstCluster)) throw damaged(`directory ${path}: first cluster ${dir.firstCluster} is outside the volume`);
    else runs = await this.fat.runs(dir.firstCluster, undefined, `directory ${path}`);
    const nodes: FatNode[] = [];
    let label: string | undefined;
    const lfn = new LongNameCollector();
    for (const run of runs) {
      const buf = await readVolume(this.src, run.diskOffset!, run.length, `directory ${path}`);
      for (let at = 0; at + 32 <= buf.length; at += 32) {
        const e = buf.subarray(at, at + 32);
        if (e[0] === 0x00) return { nodes, label };
        if (e[0] === 0xe5) {
          lfn.reset();
          continue;
        }
        const attr = e[11]!;
        if ((attr & 0x3f) === ATTR_LFN) {
          lfn.add(e);
          continue;
        }
        if (attr & ATTR_VOLUME_ID) {
          lfn.reset();
          if (dir.fixedRoot || dir.firstCluster === this.geo.rootCluster) label = e.toString('latin1', 0, 11).trimEnd();
          continue;
        }
        const short = shortName(e);
        const name = lfn.take(e) ?? short;
        if (short === '.' || short === '..') continue;
        nodes.push(this.node(name, e, run.diskOffset! + at, path));
      }
    }
    return { nodes, label };
  }

  private node(name: string, e: Buffer, entryOffset: number, dirPath: string): FatNode {
    const attr = e[11]!;
    const isDir = (attr & ATTR_DIRECTORY) !== 0;
    const firstCluster = (this.geo.bits === 32 ? e.readUInt16LE(20) << 16 : 0) + e.readUInt16LE(26);
    if (name.includes('/') || name.includes('\0')) throw damaged(`directory ${dirPath}: entry at byte ${entryOffset} has a name containing '/' or NUL`);
    const size = isDir ? 0 : e.readUInt32LE(28);
    return {
      firstCluster,
      stat: {
        name,
        type: isDir ? 'dir' : 'file',
        size,
        mtimeUs: fatTimeUs(e.readUInt16LE(24), e.readUInt16LE(22), 0),
        atimeUs: fatTimeUs(e.readUInt16LE(18), 0, 0),
        ctimeUs: fatTimeUs(e.readUInt16LE(16), e.readUInt16LE(14), e[13]!),
        mode: isDir ? 0o40755 : attr & ATTR_READ_ONLY ? 0o100444 : 0o100644,
        uid: 0,
        gid: 0,
        ino: isDir && firstCluster !== 0 ? firstCluster : FILE_INO_BASE + entryOffset,
        nlink: 1,
      },
    };
  }
}

/** VFAT long-name entries come last-first before their short entry; each carries the short name's checksum. */
class LongNameCollector {
  private parts: string[] = [];
  private expect = 0;
  private checksum = -1;

  reset(): void {
    this.parts = [];
    this.expect = 0;
    this.checksum = -1;
  }

  add(e: Buffer): void {
    const ord = e[0]! & 0x1f;
    if (e[0]! & 0x40) {
      this.reset();
      this.checksum = e[13]!;
    } else if (ord !== this.expect || e[13] !== this.checksum) {
      this.reset(); // an orphaned piece: ignore it, as the short name still stands
      return;
    }
    if (ord === 0) return this.reset();
    const units: number[] = [];
    for (const [from, to] of [[1, 11], [14, 26], [28, 32]] as const) for (let i = from; i < to; i += 2) units.push(e.readUInt16LE(i));
    this.parts[ord - 1] = String.fromCharCode(...units);
    this.expect = ord - 1;
  }

  /** The long name for this short entry, if a complete chain with the right checksum came before it. */
  take(short: Buffer): string | undefined {
    const ok = this.expect === 0 && this.parts.length > 0 && this.checksum === shortChecksum(short);
    const name = ok ? this.parts.join('') : undefined;
    this.reset();
    if (name === undefined) return undefined;
    const end = name.indexOf('\0');
    return end < 0 ? name : name.slice(0, end);
  }
}

function shortChecksum(e: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + e[i]!) & 0xff;
  return sum;
}

/** 8.3 name with the NT case flags (0x08: base in lower case, 0x10: extension in lower case). */
function shortName(e: Buffer): string {
  const raw = Buffer.from(e.subarray(0, 11));
  if (raw[0] === 0x05) raw[0] = 0xe5;
  let base = raw.toString('latin1', 0, 8).trimEnd();
  let ext = raw.toString('latin1', 8, 11).trimEnd();
  if (e[12]! & 0x08) base = base.toLowerCase();
  if (e[12]! & 0x10) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

/** FAT date and time (local time, read as UTC), plus hundredths of a second for creation times. */
function fatTimeUs(date: number, time: number, hundredths: number): number {
  const day = date & 31;
  const month = (date >> 5) & 15;
  const year = 1980 + (date >> 9);
  if (day === 0 || month === 0 || month > 12) return 0;
  const ms = Date.UTC(year, month - 1, day, time >> 11, (time >> 5) & 63, (time & 31) * 2) + Math.min(hundredths, 199) * 10;
  return ms * 1000;
}
