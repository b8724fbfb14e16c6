import { closeSync, ftruncateSync, linkSync, lchownSync, lstatSync, lutimesSync, mkdirSync, openSync, chmodSync, rmSync, symlinkSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ChronodiskError, fromFsError, throwIfCancelled } from '../errors.js';
import { isAllZero } from '../format/payload-codec.js';
import type { FileStat, FileSystemReader } from '../fs/filesystem.js';
import { walkTree } from '../fs/tree-walk.js';

export interface RestoreFilesOptions {
  overwrite?: boolean;
  /** Keep uid/gid (only meaningful as root). */
  keepOwner?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Stops between entries and chunks; what was restored so far stays. */
  signal?: AbortSignal;
}

export interface RestoreFilesResult {
  files: number;
  dirs: number;
  symlinks: number;
  hardLinks: number;
  skipped: string[];
  bytes: number;
}

interface PlannedEntry {
  source: string;
  target: string;
  stat: FileStat;
}

/** The restore plan: every entry under each PATH, mapped to DEST/<base name> ('/' maps to DEST itself). */
async function plan(fs: FileSystemReader, paths: string[], dest: string): Promise<PlannedEntry[]> {
  const out: PlannedEntry[] = [];
  for (const raw of paths) {
    const path = normalise(raw);
    const stat = await fs.stat(path);
    const base = path === '/' ? '' : path.slice(path.lastIndexOf('/') + 1);
    const top = base === '' ? dest : join(dest, base);
    if (base !== '') out.push({ source: path, target: top, stat });
    if (stat.type !== 'dir') continue;
    for await (const { path: child, entry } of walkTree(fs, path)) {
      out.push({ source: child, target: join(top, child.slice(path === '/' ? 1 : path.length + 1)), stat: entry });
    }
  }
  return out;
}

function normalise(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ChronodiskError('usage', `${path}: ".." is not allowed in a path inside the image`);
  return `/${parts.join('/')}`;
}

function existing(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Copies PATHs out of a filesystem into DEST: modes and mtimes kept, owners kept when
 * asked, symlinks as symlinks, hard links as links, holes left as holes. Every target is
 * checked before anything is written, so a refusal leaves DEST untouched.
 */
export async function restoreFiles(fs: FileSystemReader, paths: string[], dest: string, opts: RestoreFilesOptions = {}): Promise<RestoreFilesResult> {
  const there = existing(dest);
  if (there && !there.isDirectory()) throw new ChronodiskError('usage', `${dest} is not a directory; name a directory to restore into (it is made if missing)`);
  const entries = await plan(fs, paths, dest);
  const clashes = entries.filter((e) => {
    const have = existing(e.target);
    return have !== undefined && !(have.isDirectory() && e.stat.type === 'dir');
  });
  if (clashes.length > 0 && !opts.overwrite) {
    const more = clashes.length > 1 ? ` and ${clashes.length - 1} more` : '';
    throw new ChronodiskError('exists', `${clashes[0]!.target}${more} already exist; pass --overwrite to replace them (nothing was written)`);
  }
  const total = entries.reduce((n, e) => n + (e.stat.type === 'file' ? e.stat.size : 0), 0);
  const result: RestoreFilesResult = { files: 0, dirs: 0, symlinks: 0, hardLinks: 0, skipped: [], bytes: 0 };
  const linked = new Map<number, string>();
  try {
    mkdirSync(dest, { recursive: true });
    for (const e of clashes) rmSync(e.target, { recursive: true, force: true });
    for (const e of entries) {
      throwIfCancelled(opts.signal);
      const { stat, target } = e;
      if (stat.type === 'dir') {
        mkdirSync(target, { recursive: true });
        result.dirs++;
        continue;
      } else if (stat.type === 'symlink') {
        symlinkSync(stat.target ?? (await fs.readlink(e.source)), target);
        result.symlinks++;
      } else if (stat.type === 'file') {
        const first = stat.nlink > 1 ? linked.get(stat.ino) : undefined;
        if (first !== undefined) {
          linkSync(first, target);
          result.hardLinks++;
          continue;
        }
        await copyFile(fs, e, (n) => {
          throwIfCancelled(opts.signal);
          result.bytes += n;
          opts.onProgress?.(result.bytes, total);
        });
        if (stat.nlink > 1) linked.set(stat.ino, target);
        result.files++;
      } else {
        result.skipped.push(e.source);
        continue;
      }
      applyMetadata(e, opts.keepOwner === true);
    }
    // Directories last, deepest first: entries landing in them change their mtime, and a read-only mode would stop them landing.
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (e.stat.type === 'dir') applyMetadata(e, opts.keepOwner === true);
    }
  } catch (err) {
    if (err instanceof ChronodiskError) throw err;
    throw fromFsError(err, dest);
  }
  return result;
}

async function copyFile(fs: FileSystemReader, e: PlannedEntry, progress: (bytes: number) => void): Promise<void> {
  const fd = openSync(e.target, 'w', 0o600);
  try {
    await fs.readFile(e.source, (chunk, fileOffset) => {
      // Zero runs stay holes: the copy is as sparse as the original (or sparser).
      for (let at = 0; at < chunk.length; at += 65536) {
        const part = chunk.subarray(at, Math.min(chunk.length, at + 65536));
        if (!isAllZero(part)) writeSync(fd, part, 0, part.length, fileOffset + at);
      }
      progress(chunk.length);
    });
    ftruncateSync(fd, e.stat.size);
  } finally {
    closeSync(fd);
  }
}

function applyMetadata(e: PlannedEntry, keepOwner: boolean): void {
  const { stat, target } = e;
  const seconds = stat.mtimeUs / 1e6;
  if (stat.type === 'symlink') {
    if (keepOwner) lchownSync(target, stat.uid, stat.gid);
    lutimesSync(target, seconds, seconds);
    return;
  }
  if (keepOwner) lchownSync(target, stat.uid, stat.gid);
  chmodSync(target, stat.mode & 0o7777);
  utimesSync(target, (stat.atimeUs ?? stat.mtimeUs) / 1e6, seconds);
}
