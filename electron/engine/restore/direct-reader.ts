import { closeSync, constants, openSync, read } from 'node:fs';
import { alignedBuffer, DIRECT_ALIGN as ALIGN } from '../devices/aligned-buffer.js';

/**
 * Reads a disk or file with O_DIRECT, past the page cache: verification must ask the disk,
 * not our own just-written pages, and dropping a whole device's cache costs more than the
 * read. O_DIRECT wants aligned memory, which Node's Buffers do not promise; WebAssembly
 * memory is mapped whole pages, so a Buffer over it is page-aligned. Reads are widened to
 * whole 4 KiB units and the asked-for bytes returned.
 */
export class DirectReader {
  private readonly slots: Buffer[];
  private next = 0;

  private constructor(
    private fd: number,
    private readonly size: number,
    maxLength: number,
  ) {
    const bytes = maxLength + 2 * ALIGN;
    this.slots = [alignedBuffer(bytes), alignedBuffer(bytes)];
  }

  /** Undefined where O_DIRECT is not supported (tmpfs, some FUSE filesystems). */
  static async open(path: string, size: number, maxLength: number): Promise<DirectReader | undefined> {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_DIRECT);
    } catch {
      return undefined;
    }
    const r = new DirectReader(fd, size, maxLength);
    // Some filesystems accept the flag at open and refuse the read: find out now.
    try {
      await r.readRaw(r.slots[0]!.subarray(0, ALIGN), 0);
      return r;
    } catch {
      r.close();
      return undefined;
    }
  }

  /** The bytes at [offset, offset + length); valid until the read after next. */
  async read(offset: number, length: number): Promise<Buffer> {
    const start = Math.floor(offset / ALIGN) * ALIGN;
    const end = Math.min(Math.ceil((offset + length) / ALIGN) * ALIGN, Math.ceil(this.size / 512) * 512);
    const slot = this.slots[this.next++ % 2]!;
    const got = await this.readRaw(slot.subarray(0, end - start), start);
    if (got < offset + length - start) slot.fill(0, got, offset + length - start);
    return slot.subarray(offset - start, offset - start + length);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private async readRaw(into: Buffer, position: number): Promise<number> {
    let done = 0;
    while (done < into.length) {
      const n = await new Promise<number>((resolve, reject) =>
        read(this.fd, into, done, into.length - done, position + done, (err, k) => (err ? reject(err) : resolve(k))),
      );
      if (n === 0) break;
      done += n;
    }
    return done;
  }
}
