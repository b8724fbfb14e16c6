import { createHash } from 'node:crypto';
import type { Appliance } from '../appliance.js';
import { isChronodiskError } from '../errors.js';
import { detectFileSystem, type FileExtent, type FileStat, type FileSystemReader } from '../fs/filesystem.js';
import { openVolume } from '../fs/partitions.js';
import type { Extent, PointInfo } from '../timeline.js';
import type { DiskAddress } from './disk-address.js';

export interface FileVersion {
  point: PointInfo;
  kind: 'created' | 'changed' | 'removed';
  size: number;
  mtimeUs: number;
  sha256?: string;
}

export interface VersionsReport {
  versions: FileVersion[];
  /** Points whose writes could have touched the file, where its content was hashed. */
  pointsHashed: number;
  pointsTotal: number;
}

interface State {
  stat: FileStat;
  /** Disk-absolute extents, sorted by file offset. */
  extents: FileExtent[];
  sha256: string;
}

/**
 * The points at which a file's content differs from the entry before: its first
 * appearance, each change, a removal. Points with no writes are skipped from the index
 * alone; at the others only metadata is read (the file's size and extents), and the
 * content is hashed only when those changed or the point's written ranges touch the
 * file's data on disk.
 */
export async function fileVersions(app: Appliance, address: DiskAddress, path: string, opts: { limit?: number } = {}): Promise<VersionsReport> {
  const disk = app.disk(address.disk);
  const points = app.timeline.points(disk);
  const versions: FileVersion[] = [];
  let prev: State | undefined;
  let prevSeq = 0;
  let hashed = 0;
  for (const point of points) {
    const written = app.timeline.writtenBetween(disk, prevSeq, point.seq);
    prevSeq = point.seq;
    if (written.length === 0) continue;
    const found = await locate(app, address, point.seq, path);
    if (!found) {
      if (prev) versions.push({ point, kind: 'removed', size: 0, mtimeUs: prev.stat.mtimeUs });
      prev = undefined;
      continue;
    }
    const { fs, stat, extents } = found;
    const sameShape = prev !== undefined && prev.stat.size === stat.size && sameExtents(prev.extents, extents);
    // Data kept inside the inode (ext4 inline data) has no extents to watch: always hash it.
    const inline = stat.size > 0 && extents.length === 0;
    if (sameShape && !inline && !touches(written, extents)) continue;
    hashed++;
    const sha256 = await hashFile(fs, path);
    if (!prev || prev.sha256 !== sha256) {
      versions.push({ point, kind: prev ? 'changed' : 'created', size: stat.size, mtimeUs: stat.mtimeUs, sha256 });
      if (opts.limit !== undefined && versions.length >= opts.limit) break;
    }
    prev = { stat, extents, sha256 };
  }
  return { versions, pointsHashed: hashed, pointsTotal: points.length };
}

/** The file at a point, or undefined where it (or a readable filesystem) does not exist then. */
async function locate(app: Appliance, address: DiskAddress, seq: number, path: string): Promise<{ fs: FileSystemReader; stat: FileStat; extents: FileExtent[] } | undefined> {
  try {
    const volume = await openVolume(app.image(app.disk(address.disk), seq), address.partition);
    const fs = await detectFileSystem(volume);
    const stat = await fs.stat(path);
    if (stat.type !== 'file') return undefined;
    const extents = (await fs.fileExtents(path)).map((e) => ({ ...e, diskOffset: e.diskOffset + volume.start }));
    return { fs, stat, extents };
  } catch (e) {
    // Not there yet, or no filesystem at that point (a blank or half-made disk): absent.
    if (isChronodiskError(e, 'not-found') || isChronodiskError(e, 'damaged')) return undefined;
    throw e;
  }
}

function sameExtents(a: FileExtent[], b: FileExtent[]): boolean {
  return a.length === b.length && a.every((e, i) => e.fileOffset === b[i]!.fileOffset && e.diskOffset === b[i]!.diskOffset && e.length === b[i]!.length);
}

/** Whether any written range (sorted by offset) overlaps any extent. */
function touches(written: Extent[], extents: FileExtent[]): boolean {
  const sorted = [...extents].sort((x, y) => x.diskOffset - y.diskOffset);
  let i = 0;
  for (const e of sorted) {
    while (i < written.length && written[i]!.offset + written[i]!.length <= e.diskOffset) i++;
    if (i < written.length && written[i]!.offset < e.diskOffset + e.length) return true;
  }
  return false;
}

async function hashFile(fs: FileSystemReader, path: string): Promise<string> {
  const h = createHash('sha256');
  await fs.readFile(path, (chunk) => {
    h.update(chunk);
  });
  return h.digest('hex');
}
