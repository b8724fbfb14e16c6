import { lstat, open, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { fromFsError, usageError } from '../errors.js';
import type { ChunkSink, DirEntry, FileExtent, FileStat, FileSystemKind, FileSystemReader } from '../fs/filesystem.js';

const CHUNK = 4 * 1024 * 1024;

/**
 * The FileSystemReader answers of a kernel mount (see kernel-mount.ts), through
 * fs.promises only: the mount's reads are served on this same event loop.
 */
export class MountedReader implements FileSystemReader {
  /** The reader kinds name the in-process filesystems; a mounted one reports its kernel type through `mountedType`. */
  readonly kind: FileSystemKind;
  readonly blockSize = 4096;

  constructor(
    private readonly root: string,
    readonly mountedType: string,
  ) {
    this.kind = mountedType as FileSystemKind;
  }

  private resolve(path: string): string {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw usageError(`${path}: ".." is not allowed in a path inside the image`);
    return join(this.root, ...parts);
  }

  async stat(path: string): Promise<FileStat> {
    const full = this.resolve(path);
    const s = await lstat(full).catch((e) => Promise.reject(fromFsError(e, path)));
    const name = path.split('/').filter(Boolean).pop() ?? '';
    return this.describe(name, full, s);
  }

  private async describe(name: string, full: string, s: Stats): Promise<FileStat> {
    const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'other';
    const toUs = (ms: number) => Math.round(ms * 1000);
    return {
      name,
      type,
      size: s.size,
      mtimeUs: toUs(s.mtimeMs),
      atimeUs: toUs(s.atimeMs),
      ctimeUs: toUs(s.ctimeMs),
      mode: s.mode,
      uid: s.uid,
      gid: s.gid,
      ino: s.ino,
      nlink: s.nlink,
      ...(type === 'symlink' ? { target: await readlink(full) } : {}),
    };
  }

  async list(path: string): Promise<DirEntry[]> {
    const full = this.resolve(path);
    const names = await readdir(full).catch((e) => Promise.reject(fromFsError(e, path)));
    const out: DirEntry[] = [];
    for (const name of names) out.push(await this.describe(name, join(full, name), await lstat(join(full, name))));
    return out;
  }

  async read(path: string, offset: number, length: number): Promise<Buffer> {
    const fh = await open(this.resolve(path), 'r').catch((e) => Promise.reject(fromFsError(e, path)));
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async readFile(path: string, onChunk?: ChunkSink): Promise<Buffer> {
    const fh = await open(this.resolve(path), 'r').catch((e) => Promise.reject(fromFsError(e, path)));
    const parts: Buffer[] = [];
    try {
      for (let at = 0; ; ) {
        const buf = Buffer.allocUnsafe(CHUNK);
        const { bytesRead } = await fh.read(buf, 0, CHUNK, at);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        if (onChunk) await onChunk(chunk, at);
        else parts.push(chunk);
        at += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return Buffer.concat(parts);
  }

  readlink(path: string): Promise<string> {
    return readlink(this.resolve(path)).catch((e) => Promise.reject(fromFsError(e, path)));
  }

  /** The kernel does not tell where a file lies (FIEMAP needs an ioctl): callers compare content instead. */
  async fileExtents(): Promise<FileExtent[]> {
    return [];
  }
}
