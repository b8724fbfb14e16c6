import { openSync, closeSync, fstatSync, readSync } from 'node:fs';
import { fromFsError } from './errors.js';

/**
 * Anything that answers read(offset, length) with a disk's bytes: a time image, a device,
 * a disk image file, a partition window onto another source. Filesystem readers, exports
 * and restore strategies all take one of these.
 */
export interface BlockSource {
  readonly size: number;
  /** Reads exactly `length` bytes at `offset` (reads past the end are an error). */
  read(offset: number, length: number): Promise<Buffer>;
}

/** A window [start, start + size) of another source: a partition. */
export class SliceSource implements BlockSource {
  constructor(
    readonly parent: BlockSource,
    readonly start: number,
    readonly size: number,
  ) {}
  read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      return Promise.reject(new RangeError(`read of ${length} bytes at ${offset} is outside the ${this.size}-byte volume`));
    }
    return this.parent.read(this.start + offset, length);
  }
}

/** A disk image file or block device, read with positional reads. */
export class FileSource implements BlockSource {
  private fd: number;
  readonly size: number;
  constructor(readonly path: string, size?: number) {
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw fromFsError(e, path);
    }
    this.size = size ?? fstatSync(this.fd).size;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`read of ${length} bytes at ${offset} is outside ${this.path} (${this.size} bytes)`);
    }
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) {
        buf.fill(0, done);
        break;
      }
      done += n;
    }
    return buf;
  }
  close(): void {
    closeSync(this.fd);
  }
}
