import { createHash } from 'node:crypto';
import type { Appliance } from '../appliance.js';
import { detectFileSystem, type FileStat, type FileSystemReader } from '../fs/filesystem.js';
import { openVolume } from '../fs/partitions.js';
import { walkTree } from '../fs/tree-walk.js';
import type { Extent } from '../timeline.js';
import type { DiskAddress } from './disk-address.js';

export interface FileChange {
  path: string;
  type: FileStat['type'];
  /** For changed entries: what differs. */
  what?: 'content' | 'type' | 'target' | 'metadata';
}

export interface TreeDiff {
  added: FileChange[];
  removed: FileChange[];
  changed: FileChange[];
}

interface Side {
  fs: FileSystemReader;
  start: number;
  entries: Map<string, FileStat>;
}

async function openSide(app: Appliance, address: DiskAddress, seq: number): Promise<Side> {
  const volume = await openVolume(app.image(app.disk(address.disk), seq), address.partition);
  const fs = await detectFileSystem(volume);
  const entries = new Map<string, FileStat>();
  for await (const { path, entry } of walkTree(fs)) entries.set(path, entry);
  return { fs, start: volume.start, entries };
}

/**
 * Files added, removed and changed between two points. Both trees are walked (metadata
 * only); a file's content is compared by hash only when its size or extents differ or
 * the index says bytes were written over its extents between the points.
 */
export async function diffTrees(app: Appliance, address: DiskAddress, seqA: number, seqB: number): Promise<TreeDiff> {
  const disk = app.disk(address.disk);
  const written = app.timeline.writtenBetween(disk, seqA, seqB);
  const a = await openSide(app, address, seqA);
  const b = await openSide(app, address, seqB);
  const out: TreeDiff = { added: [], removed: [], changed: [] };
  for (const [path, sa] of a.entries) if (!b.entries.has(path)) out.removed.push({ path, type: sa.type });
  for (const [path, sb] of b.entries) {
    const sa = a.entries.get(path);
    if (!sa) {
      out.added.push({ path, type: sb.type });
      continue;
    }
    const what = await difference(a, b, path, sa, sb, written);
    if (what) out.changed.push({ path, type: sb.type, what });
  }
  return out;
}

async function difference(a: Side, b: Side, path: string, sa: FileStat, sb: FileStat, written: Extent[]): Promise<FileChange['what']> {
  if (sa.type !== sb.type) return 'type';
  if (sa.type === 'symlink') return sa.target !== sb.target ? 'target' : sa.mode !== sb.mode ? 'metadata' : undefined;
  const metadata = sa.mode !== sb.mode || sa.uid !== sb.uid || sa.gid !== sb.gid || (sa.type !== 'dir' && sa.mtimeUs !== sb.mtimeUs);
  if (sa.type !== 'file') return metadata ? 'metadata' : undefined;
  if (sa.size !== sb.size) return 'content';
  const [ea, eb] = [await a.fs.fileExtents(path), await b.fs.fileExtents(path)];
  const same = ea.length === eb.length && ea.every((e, i) => e.fileOffset === eb[i]!.fileOffset && e.diskOffset + a.start === eb[i]!.diskOffset + b.start && e.length === eb[i]!.length);
  const inline = sa.size > 0 && ea.length === 0;
  if (same && !inline && !touches(written, eb, b.start)) return metadata ? 'metadata' : undefined;
  if ((await hash(a.fs, path)) !== (await hash(b.fs, path))) return 'content';
  return metadata ? 'metadata' : undefined;
}

function touches(written: Extent[], extents: { diskOffset: number; length: number }[], start: number): boolean {
  return extents.some((e) => written.some((w) => w.offset < start + e.diskOffset + e.length && start + e.diskOffset < w.offset + w.length));
}

async function hash(fs: FileSystemReader, path: string): Promise<string> {
  const h = createHash('sha256');
  await fs.readFile(path, (chunk) => {
    h.update(chunk);
  });
  return h.digest('hex');
}
