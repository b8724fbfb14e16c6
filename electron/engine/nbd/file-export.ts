/**
 * An export over a disk image file or a block device, read-write or read-only: the baseline
 * export (nbdkit's "file" plugin) and what tests serve.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, fdatasync, fstatSync, openSync, read, readFileSync, write, writev } from 'node:fs';
import { fromFsError } from '../errors.js';
import { ExportError, type NbdExport, type ZeroOptions } from './export.js';

/** Below this, writing zeroes beats starting fallocate(1) (a few ms, i.e. several MiB of writes). */
const SPAWN_THRESHOLD = 8 << 20;
const ZERO_CHUNK = 1 << 20;

export interface FileExportOptions {
  readOnly?: boolean;
}

export class FileExport implements NbdExport {
  readonly canMultiConn = true; // one page cache behind every fd: flush on one covers all
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly size: number,
    readonly readOnly: boolean,
    private readonly blockDevice: boolean,
  ) {}

  /** Opens `path` (a regular file or block device) for one connection. */
  static open(path: string, options: FileExportOptions = {}): FileExport {
    const readOnly = options.readOnly ?? false;
    let fd: number;
    try {
      fd = openSync(path, readOnly ? constants.O_RDONLY : constants.O_RDWR);
    } catch (e) {
      throw fromFsError(e, path);
    }
    try {
      const st = fstatSync(fd);
      const blockDevice = st.isBlockDevice();
      return new FileExport(path, fd, blockDevice ? blockDeviceSize(st.rdev) : st.size, readOnly, blockDevice);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(offset, buf);
    return buf;
  }

  readInto(offset: number, buf: Buffer): Promise<void> {
    const length = buf.length;
    return new Promise((resolve, reject) => {
      let done = 0;
      const next = (): void =>
        read(this.fd, buf, done, length - done, offset + done, (err, n) => {
          if (err) return reject(err);
          if (n === 0) {
            buf.fill(0, done); // the file shrank under us: what is gone reads as zeroes
            return resolve();
          }
          done += n;
          if (done < length) next();
          else resolve();
        });
      next();
    });
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      let done = 0;
      const next = (): void =>
        write(this.fd, data, done, data.length - done, offset + done, (err, n) => {
          if (err) return reject(err);
          done += n;
          if (done < data.length) next();
          else resolve();
        });
      next();
    });
    if (fua) await this.flush();
  }

  async writev(offset: number, chunks: Buffer[], fua: boolean): Promise<void> {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const written = await new Promise<number>((resolve, reject) =>
      writev(this.fd, chunks, offset, (err, n) => (err ? reject(err) : resolve(n))),
    );
    // pwritev may stop short (rarely, on regular files); finish the rest the plain way.
    if (written < total) await this.write(offset + written, Buffer.concat(chunks).subarray(written), false);
    if (fua) await this.flush();
  }

  flush(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  /** Punches a hole (a regular file) or discards (a device); trim is a hint, so failure is fine. */
  async trim(offset: number, length: number, fua: boolean): Promise<void> {
    await this.fallocate(['--punch-hole'], offset, length).catch(() => undefined);
    if (fua) await this.flush();
  }

  async zero(offset: number, length: number, options: ZeroOptions): Promise<void> {
    let done = false;
    if (length >= SPAWN_THRESHOLD) {
      // punch-hole leaves a sparse file reading as zeroes; NO_HOLE wants real zeroed blocks.
      done = await this.fallocate(options.noHole ? ['--zero-range', '--keep-size'] : ['--punch-hole'], offset, length).then(
        () => true,
        () => false,
      );
    }
    if (!done) {
      if (options.fast) throw new ExportError('ENOTSUP', 'zeroing this range is no faster than writing it');
      const z = Buffer.alloc(Math.min(ZERO_CHUNK, length));
      for (let at = 0; at < length; at += z.length) {
        await this.write(offset + at, at + z.length <= length ? z : z.subarray(0, length - at), false);
      }
    }
    if (options.fua) await this.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  /** Node has no fallocate(2); util-linux's fallocate(1) is the wrapper every system has. */
  private fallocate(mode: string[], offset: number, length: number): Promise<void> {
    // Through our own descriptor, so a file renamed or replaced since open() is not the one changed.
    const args = [...mode, '--offset', String(offset), '--length', String(length), `/proc/${process.pid}/fd/${this.fd}`];
    return new Promise((resolve, reject) => {
      execFile('fallocate', args, { timeout: 60_000 }, (err) => (err ? reject(err) : resolve()));
    });
  }

  get isBlockDevice(): boolean {
    return this.blockDevice;
  }
}

/** A block device's size from sysfs (fstat says 0 for devices, and Node has no ioctl). */
function blockDeviceSize(rdev: number): number {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  const sectors = Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim());
  return sectors * 512;
}
