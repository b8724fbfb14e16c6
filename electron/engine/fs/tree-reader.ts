import type { BlockSource } from '../block-source.js';
import { ChronodiskError, damaged, notFound, usageError } from '../errors.js';
import type { ChunkSink, DirEntry, FileExtent, FileStat, FileSystemKind, FileSystemReader } from './types.js';
import { readVolume } from './volume-read.js';

/** A piece of a file: bytes at diskOffset on the volume, or zeros (a hole) when diskOffset is null. */
export interface DataRun {
  fileOffset: number;
  length: number;
  diskOffset: number | null;
}

/** What a concrete reader knows about one file; `stat.name` is its name in its directory. */
export interface TreeNode {
  stat: FileStat;
  /**
   * Set when this entry's own metadata is damaged: it still shows in its directory's
   * listing (as type 'other'), so the rest stays browsable, and any use of it throws this.
   */
  error?: Error;
}

const MAX_BUFFERED_FILE = 1024 * 1024 * 1024;
const STREAM_CHUNK = 8 * 1024 * 1024;
const DIR_CACHE_ENTRIES = 400_000;
const RUN_CACHE_FILES = 64;
const MAX_PATH_DEPTH = 4096;

/**
 * The path-level half of every reader: resolving paths, caching directories, reading
 * files through their data runs in large pieces. Concrete readers supply the root, a
 * directory's children, a file's runs and a symlink's target.
 */
export abstract class TreeReader<N extends TreeNode> implements FileSystemReader {
  abstract readonly kind: FileSystemKind;
  abstract readonly label?: string;
  abstract readonly blockSize: number;
  /** FAT and exFAT names match case-insensitively. */
  protected readonly caseInsensitive: boolean = false;
  private dirCache = new Map<number, Map<string, N>>();
  private dirCacheSize = 0;
  private runCache = new Map<number, DataRun[]>();

  constructor(readonly src: BlockSource) {}

  protected abstract rootNode(): Promise<N>;
  /** The directory's entries without '.' and '..'. */
  protected abstract childrenOf(dir: N, path: string): Promise<N[]>;
  /** Sorted, non-overlapping runs within [0, size); gaps read as zeros. */
  protected abstract runsOf(file: N, path: string): Promise<DataRun[]>;
  protected abstract linkTargetOf(link: N, path: string): Promise<string>;

  stat(path: string): Promise<FileStat> {
    return oneLineErrors(() => this.statUnguarded(path));
  }

  private async statUnguarded(path: string): Promise<FileStat> {
    const node = await this.resolve(path);
    return this.withTarget(node, path);
  }

  list(path: string): Promise<DirEntry[]> {
    return oneLineErrors(() => this.listUnguarded(path));
  }

  private async listUnguarded(path: string): Promise<DirEntry[]> {
    const dir = await this.resolve(path);
    if (dir.stat.type !== 'dir') throw usageError(`${path} is not a directory`);
    const children = await this.children(dir, path);
    const out: DirEntry[] = [];
    for (const child of children.values()) {
      if (child.stat.type !== 'symlink' || child.error) {
        out.push({ ...child.stat });
        continue;
      }
      const childPath = joinPath(path, child.stat.name);
      try {
        out.push(await this.withTarget(child, childPath));
      } catch (e) {
        // One unreadable link target must not hide the rest of the directory.
        if (!(e instanceof ChronodiskError)) throw e;
        out.push({ ...child.stat });
      }
    }
    return out;
  }

  read(path: string, offset: number, length: number): Promise<Buffer> {
    return oneLineErrors(() => this.readUnguarded(path, offset, length));
  }

  private async readUnguarded(path: string, offset: number, length: number): Promise<Buffer> {
    const node = await this.resolve(path);
    if (node.stat.type !== 'file') throw usageError(`${path} is not a regular file`);
    return this.readNode(node, path, offset, length);
  }

  readFile(path: string, onChunk?: ChunkSink): Promise<Buffer> {
    return oneLineErrors(() => this.readFileUnguarded(path, onChunk));
  }

  private async readFileUnguarded(path: string, onChunk?: ChunkSink): Promise<Buffer> {
    const node = await this.resolve(path);
    if (node.stat.type !== 'file') throw usageError(`${path} is not a regular file`);
    const size = node.stat.size;
    if (!onChunk) {
      if (size > MAX_BUFFERED_FILE) throw usageError(`${path} is ${size} bytes: too large to read into memory; stream it instead`);
      return this.readNode(node, path, 0, size);
    }
    for (let off = 0; off < size; off += STREAM_CHUNK) {
      await onChunk(await this.readNode(node, path, off, Math.min(STREAM_CHUNK, size - off)), off);
    }
    return Buffer.alloc(0);
  }

  readlink(path: string): Promise<string> {
    return oneLineErrors(() => this.readlinkUnguarded(path));
  }

  private async readlinkUnguarded(path: string): Promise<string> {
    const node = await this.resolve(path);
    if (node.stat.type !== 'symlink') throw usageError(`${path} is not a symbolic link`);
    return this.linkTargetOf(node, path);
  }

  fileExtents(path: string): Promise<FileExtent[]> {
    return oneLineErrors(() => this.fileExtentsUnguarded(path));
  }

  private async fileExtentsUnguarded(path: string): Promise<FileExtent[]> {
    const node = await this.resolve(path);
    if (node.stat.type !== 'file' && node.stat.type !== 'dir') return [];
    const runs = await this.runs(node, path);
    return runs.filter((r) => r.diskOffset !== null).map((r) => ({ fileOffset: r.fileOffset, diskOffset: r.diskOffset!, length: r.length }));
  }

  /** Walks PATH from the root; '.' and '..' are resolved lexically and symlinks are not followed. */
  protected async resolve(path: string): Promise<N> {
    const parts = splitPath(path);
    let node = await this.rootNode();
    let sofar = '';
    for (const part of parts) {
      if (node.stat.type !== 'dir') throw notFound(`${path} does not exist: ${sofar || '/'} is not a directory`);
      const children = await this.children(node, sofar || '/');
      let next = children.get(part);
      if (!next && this.caseInsensitive) {
        const want = part.toLowerCase();
        for (const [name, child] of children) if (name.toLowerCase() === want) next = child;
      }
      sofar += '/' + part;
      if (!next) throw notFound(`${path} does not exist on this ${this.kind} volume (no ${sofar})`);
      node = next;
      if (node.error) throw node.error;
    }
    return node;
  }

  private async children(dir: N, path: string): Promise<Map<string, N>> {
    const cached = this.dirCache.get(dir.stat.ino);
    if (cached) {
      this.dirCache.delete(dir.stat.ino);
      this.dirCache.set(dir.stat.ino, cached);
      return cached;
    }
    const map = new Map<string, N>();
    for (const child of await this.childrenOf(dir, path)) map.set(child.stat.name, child);
    while (this.dirCacheSize + map.size > DIR_CACHE_ENTRIES && this.dirCache.size > 0) {
      const [oldest, entries] = this.dirCache.entries().next().value as [number, Map<string, N>];
      this.dirCache.delete(oldest);
      this.dirCacheSize -= entries.size;
    }
    this.dirCache.set(dir.stat.ino, map);
    this.dirCacheSize += map.size;
    return map;
  }

  private async runs(node: N, path: string): Promise<DataRun[]> {
    let runs = this.runCache.get(node.stat.ino);
    if (!runs) {
      runs = await this.runsOf(node, path);
      let end = 0;
      for (const r of runs) {
        if (r.fileOffset < end || (r.diskOffset !== null && r.diskOffset + r.length > this.src.size)) {
          throw damaged(`data map of ${path}: run at file offset ${r.fileOffset} overlaps or lies outside the volume`);
        }
        end = r.fileOffset + r.length;
      }
      if (this.runCache.size >= RUN_CACHE_FILES) this.runCache.delete(this.runCache.keys().next().value as number);
      this.runCache.set(node.stat.ino, runs);
    }
    return runs;
  }

  protected async readNode(node: N, path: string, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw usageError(`read of ${length} bytes at ${offset} from ${path}: offset and length must be non-negative integers`);
    }
    const end = Math.min(offset + length, node.stat.size);
    if (end <= offset) return Buffer.alloc(0);
    const runs = await this.runs(node, path);
    let i = firstRunEndingAfter(runs, offset);
    const first = runs[i];
    // The common case, one run covering the whole request: hand back the source's buffer.
    if (first && first.diskOffset !== null && first.fileOffset <= offset && first.fileOffset + first.length >= end) {
      return readVolume(this.src, first.diskOffset + (offset - first.fileOffset), end - offset, `data of ${path}`);
    }
    const out = Buffer.alloc(end - offset);
    for (; i < runs.length && runs[i]!.fileOffset < end; i++) {
      const r = runs[i]!;
      if (r.diskOffset === null) continue;
      const from = Math.max(offset, r.fileOffset);
      const to = Math.min(end, r.fileOffset + r.length);
      const bytes = await readVolume(this.src, r.diskOffset + (from - r.fileOffset), to - from, `data of ${path}`);
      bytes.copy(out, from - offset);
    }
    return out;
  }

  private async withTarget(node: N, path: string): Promise<FileStat> {
    if (node.stat.type !== 'symlink' || node.stat.target !== undefined) return { ...node.stat };
    return { ...node.stat, target: await this.linkTargetOf(node, path) };
  }
}

function firstRunEndingAfter(runs: DataRun[], offset: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (runs[mid]!.fileOffset + runs[mid]!.length <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  if (out.length > MAX_PATH_DEPTH) throw usageError(`path has more than ${MAX_PATH_DEPTH} components`);
  return out;
}

export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Names on disk may hold newlines or control characters: keep every error message on one line. */
export async function oneLineErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ChronodiskError && printable(e.message) !== e.message) throw new ChronodiskError(e.code, printable(e.message), { cause: e });
    throw e;
  }
}

/** Control characters shown as \xNN. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
