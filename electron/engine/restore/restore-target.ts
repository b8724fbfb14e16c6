import { close, constants, fdatasync, ftruncate, open, read, write } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ChronodiskError, fromFsError } from '../errors.js';

const run = promisify(execFile);

/**
 * The disk or image file a restore writes: positional writes and reads with errors turned
 * into one-line messages that say the restore can be finished by running it again.
 * A block device is opened O_EXCL, so the kernel itself refuses it while anything has it
 * mounted or claimed.
 */
export class RestoreTarget {
  /** A second descriptor with O_DIRECT for aligned writes to a device (-1: none). */
  private directFd = -1;

  private constructor(
    readonly path: string,
    readonly isDevice: boolean,
    private fd: number,
  ) {}

  static async open(path: string, opts: { device: boolean; create?: boolean }): Promise<RestoreTarget> {
    const flags = constants.O_RDWR | (opts.device ? constants.O_EXCL : opts.create ? constants.O_CREAT : 0);
    try {
      const fd = await promisify(open)(path, flags, 0o600);
      const t = new RestoreTarget(path, opts.device, fd);
      // Direct writes skip the page cache: no double copy through a loop device, no cache to flush.
      if (opts.device) t.directFd = await promisify(open)(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => -1);
      return t;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EBUSY') {
        throw new ChronodiskError('busy', `${path} is in use (mounted, or claimed by another program); unmount or release it first`, { cause: e });
      }
      throw fromFsError(e, path);
    }
  }

  /** Sets an image file's size (a hole where nothing is written: the file stays sparse). */
  async setFileSize(size: number, fresh: boolean): Promise<void> {
    if (this.isDevice) return;
    try {
      if (fresh) await promisify(ftruncate)(this.fd, 0);
      await promisify(ftruncate)(this.fd, size);
    } catch (e) {
      throw this.failure(e, 'sizing');
    }
  }

  /**
   * Writes `data` at `position`. With `aligned` (the caller's buffer is page-aligned) a
   * whole-4-KiB write to a device goes through O_DIRECT.
   */
  async write(data: Buffer, position: number, aligned = false): Promise<void> {
    const fd = aligned && this.directFd >= 0 && position % 4096 === 0 && data.length % 4096 === 0 ? this.directFd : this.fd;
    let done = 0;
    while (done < data.length) {
      try {
        done += await new Promise<number>((resolve, reject) =>
          write(fd, data, done, data.length - done, position + done, (err, n) => (err ? reject(err) : resolve(n))),
        );
      } catch (e) {
        throw this.failure(e, `writing at byte ${position + done}`);
      }
    }
  }

  async read(into: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < into.length) {
      let n: number;
      try {
        n = await new Promise<number>((resolve, reject) =>
          read(this.fd, into, done, into.length - done, position + done, (err, k) => (err ? reject(err) : resolve(k))),
        );
      } catch (e) {
        throw this.failure(e, `reading back byte ${position + done}`);
      }
      if (n === 0) {
        into.fill(0, done);
        return;
      }
      done += n;
    }
  }

  /** Makes every write so far durable; a write the device failed surfaces here. */
  async sync(): Promise<void> {
    try {
      await promisify(fdatasync)(this.fd);
    } catch (e) {
      throw this.failure(e, 'flushing writes');
    }
  }

  /**
   * Drops the device's cached pages, so reading back asks the disk rather than returning
   * what we just wrote from memory. (An image file is read back through the page cache.)
   */
  async dropCache(): Promise<void> {
    if (this.isDevice) await run('blockdev', ['--flushbufs', this.path]).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const fd of [this.fd, this.directFd]) if (fd >= 0) await promisify(close)(fd).catch(() => undefined);
    this.fd = -1;
    this.directFd = -1;
  }

  private failure(e: unknown, what: string): Error {
    const code = (e as NodeJS.ErrnoException)?.code;
    const again = 'the restore is unfinished: fix the cause and run the same restore again to finish it';
    if (code === 'EIO') return new ChronodiskError('io', `${this.path}: I/O error ${what}; ${again}`, { cause: e });
    if (code === 'ENOSPC') return new ChronodiskError('no-space', `${this.path}: no space left ${what}; ${again}`, { cause: e });
    const err = fromFsError(e, this.path);
    return err instanceof ChronodiskError ? err : new ChronodiskError('io', `${this.path}: ${(e as Error)?.message ?? e} (${what}); ${again}`, { cause: e });
  }
}
