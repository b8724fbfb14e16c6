import { InodeTable } from '../../electron/engine/fs/ext4-inode.js';
import { journalReplay } from '../../electron/engine/fs/ext4-journal.js';
import { GroupDescriptors, readExtSuperblock } from '../../electron/engine/fs/ext4-superblock.js';
import { parseExfatBoot } from '../../electron/engine/fs/exfat.js';
import { parseFatBoot } from '../../electron/engine/fs/fat-table.js';
import { detectFileSystem } from '../../electron/engine/fs/filesystem.js';
import { PatchedSource, type FuzzImage } from './fuzz-images.js';

export type Patch = Map<number, number>;
export interface Target {
  what: string;
  patch: Patch;
}
/** Byte ranges where damage hurts most: superblocks, descriptors, inode tables, FATs, directories. */
export interface FuzzPlan {
  hot: [number, number][];
  targets: Target[];
}

const le = (patch: Patch, at: number, bytes: number, value: number) => {
  for (let i = 0; i < bytes; i++) patch.set(at + i, Math.floor(value / 2 ** (8 * i)) & 0xff);
  return patch;
};
const one = (what: string, at: number, bytes: number, value: number): Target => ({ what, patch: le(new Map(), at, bytes, value) });

export async function planFor(img: FuzzImage): Promise<FuzzPlan> {
  const src = new PatchedSource(img.bytes, img.bytes.length, new Map());
  const b = img.bytes;
  if (img.name.startsWith('ext')) return planExt(src, b);
  if (img.name.startsWith('fat')) return planFat(src, b);
  if (img.name === 'exfat') return planExfat(src, b);
  const sectors: [number, number][] = [];
  for (let at = 0; at < b.length; at += 512) if (b[at + 510] === 0x55 && b[at + 511] === 0xaa) sectors.push([at, at + 512]);
  if (img.name === 'gpt') sectors.push([0, 34 * 512], [b.length - 33 * 512, b.length]);
  return { hot: sectors, targets: [] };
}

async function planExt(src: PatchedSource, b: Buffer): Promise<FuzzPlan> {
  const sb = await readExtSuperblock(src);
  const table = (await new GroupDescriptors(src, sb).inodeTableBlock(0)) * sb.blockSize;
  const inodeAt = (ino: number) => table + (ino - 1) * sb.inodeSize;
  const fs = await detectFileSystem(src);
  const dirs: [number, number][] = [];
  for (const d of ['/', '/a', '/a/b', '/many']) for (const e of await fs.fileExtents(d)) dirs.push([e.diskOffset, e.diskOffset + e.length]);
  const entryOf = (name: string, [from, to]: [number, number]) => {
    const want = Buffer.concat([Buffer.from([name.length, 2]), Buffer.from(name)]);
    for (let at = b.indexOf(want, from); at >= 0 && at < to; at = b.indexOf(want, at + 1)) if ((at - from) % 4 === 2) return at - 6;
    return -1;
  };
  const aIno = (await fs.stat('/a')).ino;
  const large = inodeAt((await fs.stat('/large.bin')).ino);
  const frag = inodeAt((await fs.stat('/fragmented.bin')).ino);
  const rootDir = dirs[0]!;
  const aDir = (await fs.fileExtents('/a')).map((e) => [e.diskOffset, e.diskOffset + e.length] as [number, number])[0];
  const targets: Target[] = [
    one('root entry a points at the root (a directory containing itself)', entryOf('a', rootDir), 4, 2),
    one('superblock: block size 2^17', 1024 + 0x18, 4, 7),
    one('superblock: zero inodes per group', 1024 + 0x28, 4, 0),
    one('superblock: 2^32-1 blocks', 1024 + 0x4, 4, 0xffffffff),
    one('superblock: inode size 3', 1024 + 0x58, 2, 3),
    one('group descriptor: inode table past the end', (sb.firstDataBlock + 1) * sb.blockSize + 8, 4, 0xfffffff0),
    one('root inode: mode 0', inodeAt(2), 2, 0),
    one('large.bin: size 2^52', large + 108, 4, 0x100000),
    one('large.bin: first block pointer past the disk end', large + 40, 4, 0xfffffff0),
    one('large.bin: extent start past the disk end', large + 40 + 12 + 6, 2, 0xffff),
    one('fragmented.bin: extent depth 4 at the root', frag + 40 + 6, 2, 4),
    one('fragmented.bin: 300 entries in the root', frag + 40 + 2, 2, 300),
    one('root directory: first record length 0', rootDir[0] + 4, 2, 0),
    one('root directory: first record length past the block', rootDir[0] + 4, 2, 0xfffc),
    one('root directory: entry inode past the inode count', rootDir[0] + 24, 4, 0x7fffffff),
  ];
  if (aDir) targets.push(one('entry a/b points at a (a loop)', entryOf('b', aDir), 4, aIno));
  // Journal blocks (superblock, descriptors, commits, revokes) carry the jbd2 magic.
  const journal: [number, number][] = [];
  for (let at = 0; at + 4 <= b.length; at += sb.blockSize) if (b.readUInt32BE(at) === 0xc03b3998) journal.push([at, at + 64]);
  // A volume imaged while mounted reads with its journal replayed over the home blocks
  // (all but the superblock, read first): a patch to the home copy of a journalled block
  // never shows. Whether the kernel had written such a block home when the image was
  // taken, so that entryOf finds it at all, varies from run to run.
  const journalled = sb.needsRecovery ? await journalReplay(src, sb, await new InodeTable(src, sb, new GroupDescriptors(src, sb)).read(sb.journalInode)) : new Map<number, unknown>();
  const shows = (k: number) => k >= 0 && ((k >= 1024 && k < 2048) || !journalled.has(Math.floor(k / sb.blockSize)));
  return { hot: [...journal, [1024, 2048], [(sb.firstDataBlock + 1) * sb.blockSize, (sb.firstDataBlock + 2) * sb.blockSize], [table, table + 64 * 1024], ...dirs], targets: targets.filter((t) => [...t.patch.keys()].every(shows)) };
}

async function planFat(src: PatchedSource, b: Buffer): Promise<FuzzPlan> {
  const geo = parseFatBoot(b.subarray(0, 512));
  const fs = await detectFileSystem(src);
  const clusterAt = (c: number) => geo.dataOffset + (c - 2) * geo.clusterSize;
  const rootRegion: [number, number] = geo.bits === 32 ? [clusterAt(geo.rootCluster), clusterAt(geo.rootCluster) + geo.clusterSize] : [geo.rootDirOffset, geo.rootDirOffset + geo.rootDirBytes];
  const shortDir = (name: string, [from, to]: [number, number]) => {
    const want = Buffer.from(name.toUpperCase().padEnd(11, ' '), 'latin1');
    for (let at = from; at + 32 <= to; at += 32) if (b.subarray(at, at + 11).equals(want) && b[at + 11]! & 0x10) return at;
    return -1;
  };
  const aCluster = (await fs.stat('/a')).ino;
  const aEntry = shortDir('a', rootRegion);
  const bEntry = shortDir('b', [clusterAt(aCluster), clusterAt(aCluster) + geo.clusterSize]);
  const largeEntry = (await fs.stat('/large.bin')).ino - 2 ** 32;
  const largeCluster = b.readUInt16LE(largeEntry + 26) + (geo.bits === 32 ? b.readUInt16LE(largeEntry + 20) * 65536 : 0);
  const fatEntry = (c: number) => geo.fatOffset + (geo.bits === 12 ? c + (c >> 1) : (c * geo.bits) / 8);
  const targets: Target[] = [
    one('entry a/b points at a (a directory containing itself)', bEntry + 26, 2, aCluster & 0xffff),
    one('large.bin: size 4 GiB - 1', largeEntry + 28, 4, 0xffffffff),
    one('large.bin: first cluster past the end', largeEntry + 26, 2, 0xfff0),
    one('FAT: large.bin chain points at itself', fatEntry(largeCluster), geo.bits === 32 ? 4 : 2, geo.bits === 12 ? largeCluster << (largeCluster & 1 ? 4 : 0) : largeCluster),
    one('FAT: large.bin chain ends in a free cluster', fatEntry(largeCluster), geo.bits === 32 ? 4 : 2, 0),
    one('boot sector: 0 bytes per sector', 0x0b, 2, 0),
    one('boot sector: 3 sectors per cluster', 0x0d, 1, 3),
    one('boot sector: tiny volume', 0x13, 2, 40),
  ];
  if (geo.bits === 32) targets.push(one('entry a points at the root (a loop)', aEntry + 26, 2, geo.rootCluster));
  return { hot: [[0, 512], [geo.fatOffset, geo.fatOffset + Math.min(geo.fatBytes, 65536)], rootRegion, [geo.dataOffset, geo.dataOffset + 128 * 1024]], targets: targets.filter((t) => ![...t.patch.keys()].some((k) => k < 0)) };
}

function setChecksum(set: Buffer): number {
  let sum = 0;
  for (let i = 0; i < set.length; i++) if (i !== 2 && i !== 3) sum = ((((sum & 1) << 15) | (sum >>> 1)) + set[i]!) & 0xffff;
  return sum;
}

async function planExfat(src: PatchedSource, b: Buffer): Promise<FuzzPlan> {
  const geo = parseExfatBoot(b.subarray(0, 512));
  const root = geo.dataOffset + (geo.rootCluster - 2) * geo.clusterSize;
  const targets: Target[] = [one('boot sector: cluster shift 30', 109, 1, 30), one('boot sector: root cluster 0', 96, 4, 0)];
  // The entry set of directory 'a' in the root: point its stream at the root, with and without a fixed checksum.
  for (let at = root; at + 96 <= root + geo.clusterSize; at += 32) {
    if (b[at] !== 0x85 || b[at + 35] !== 1 || b.readUInt16LE(at + 66) !== 0x61) continue;
    const set = Buffer.from(b.subarray(at, at + 32 * (b[at + 1]! + 1)));
    set.writeUInt32LE(geo.rootCluster, 32 + 20);
    const looped = le(le(new Map(), at + 52, 4, geo.rootCluster), at + 2, 2, setChecksum(set));
    targets.push({ what: 'directory a points at the root (a loop), checksum fixed', patch: looped });
    targets.push(one('directory a points at the root, checksum left stale', at + 52, 4, geo.rootCluster));
  }
  void src;
  return { hot: [[0, 12 * 512], [geo.fatOffset, geo.fatOffset + 65536], [root, root + 256 * 1024]], targets };
}
