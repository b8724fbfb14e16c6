import { close, constants, open, read } from 'node:fs';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { alignedBuffer, DIRECT_ALIGN } from '../devices/aligned-buffer.js';
import { fromFsError } from '../errors.js';

const openAsync = promisify(open);
const closeAsync = promisify(close);
const run = promisify(execFile);

function readAsync(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

const roundUp = (n: number) => Math.ceil(n / DIRECT_ALIGN) * DIRECT_ALIGN;

/**
 * Reads a source (device or image file) in large chunks with the next reads already in
 * flight while the caller works on the current one, so hashing overlaps I/O. Where the
 * source allows it, aligned chunks are read with O_DIRECT: the disk answers straight
 * into our (page-aligned) buffers, with no copy out of the page cache, no stale cached
 * pages of a device a filesystem writes through its own cache, and no eviction of the
 * workstation's cache by a whole-disk pass. Kernel read-ahead is gone then, so the reads
 * in flight keep the disk busy.
 */
export class SourceReader {
  private constructor(
    private readonly fd: number,
    /** An O_DIRECT descriptor, or -1 where the source refuses it (tmpfs, some FUSE). */
    private readonly directFd: number,
    readonly path: string,
    readonly size: number,
  ) {}

  static async open(path: string, size: number, options: { direct?: boolean } = {}): Promise<SourceReader> {
    let fd: number;
    try {
      fd = await openAsync(path, 'r');
    } catch (e) {
      throw fromFsError(e, path);
    }
    const directFd = options.direct === false ? -1 : await openDirect(path);
    return new SourceReader(fd, directFd, path, size);
  }

  /** True when aligned chunks bypass the page cache. */
  get direct(): boolean {
    return this.directFd >= 0;
  }

  /**
   * Drops the block device's page cache. A filesystem mounted on the device writes file
   * data through its own cache, so pages of the device that we read earlier can be stale.
   */
  static async dropDeviceCache(device: string): Promise<void> {
    await run('blockdev', ['--flushbufs', device]).catch(() => undefined);
  }

  /**
   * Yields [offset, bytes] for the ranges, each split into chunks of `chunk` bytes, with
   * the next `ahead` reads already in flight while the caller works on the current chunk.
   * A yielded buffer is reused once the caller asks for the next one. Bytes past the end
   * of the source read as zeros. With `lending`, the memory is shared (a SharedArrayBuffer:
   * the caller can lend chunks to worker threads instead of copying them), there is room
   * for `spare` more chunks, and a chunk's memory is read into again only once the promise
   * that `released()` returned when the caller asked for the next chunk has resolved.
   */
  async *chunks(ranges: Array<{ offset: number; length: number }>, chunk: number, ahead = 2, lending?: { released: () => Promise<void>; spare: number }): AsyncGenerator<[number, Buffer]> {
    const jobs: Array<[number, number]> = [];
    for (const r of ranges) {
      for (let at = r.offset; at < r.offset + r.length; at += chunk) jobs.push([at, Math.min(chunk, r.offset + r.length - at)]);
    }
    if (jobs.length === 0) return;
    // One slot per read in flight plus the one the caller holds (and the lent ones), each whole 4 KiB units.
    const slot = roundUp(Math.max(...jobs.map((j) => j[1])));
    const slots = Math.min(jobs.length, ahead + 1 + (lending?.spare ?? 0));
    const shared = lending !== undefined;
    const memory = this.direct ? alignedBuffer(slot * slots, shared) : shared ? Buffer.from(new SharedArrayBuffer(slot * slots)) : Buffer.allocUnsafeSlow(slot * slots);
    // Slots are taken lowest first, so memory lent only briefly (or not at all: an
    // unchanged pass) is never touched beyond the few slots in use (no page faults).
    const idle = Array.from({ length: slots }, (_, i) => i);
    const waiting: Array<(s: number) => void> = [];
    const giveBack = (s: number) => {
      const w = waiting.shift();
      if (w) w(s);
      else idle.splice(sortedIndex(idle, s), 0, s);
    };
    const take = (): Promise<number> => (idle.length ? Promise.resolve(idle.shift()!) : new Promise((resolve) => waiting.push(resolve)));
    const inFlight: Array<Promise<[Buffer, number]>> = [];
    let started = 0;
    const startReads = () => {
      for (; started < jobs.length && inFlight.length < ahead; started++) {
        const [at, len] = jobs[started]!;
        inFlight.push(take().then(async (s) => [await this.readChunk(memory.subarray(s * slot, (s + 1) * slot), at, len), s]));
      }
    };
    try {
      for (let i = 0; i < jobs.length; i++) {
        startReads();
        const [buf, s] = await inFlight.shift()!;
        startReads();
        yield [jobs[i]![0], buf];
        // The caller is done with the chunk: its slot takes a later read (once released, when lent).
        if (lending) void lending.released().then(() => giveBack(s));
        else giveBack(s);
      }
    } finally {
      // A caller that stops early must not close the fds under reads still running.
      await Promise.allSettled(inFlight);
    }
  }

  /** Reads `len` bytes at `at` into the start of `slot`; O_DIRECT when `at` is aligned. */
  private async readChunk(slot: Buffer, at: number, len: number): Promise<Buffer> {
    const buf = slot.subarray(0, len);
    const direct = this.directFd >= 0 && at % DIRECT_ALIGN === 0;
    // O_DIRECT reads whole units: past the source's end it simply stops short.
    const got = direct ? await this.readFully(this.directFd, slot.subarray(0, roundUp(len)), at) : await this.readFully(this.fd, buf, at);
    if (got < len) buf.fill(0, got);
    return buf;
  }

  private async readFully(fd: number, buf: Buffer, position: number): Promise<number> {
    let done = 0;
    while (done < buf.length) {
      let n: number;
      try {
        n = await readAsync(fd, buf.subarray(done), position + done);
      } catch (e) {
        throw fromFsError(e, this.path);
      }
      done += n;
      // A direct read stops short only at the source's end (the next offset would be unaligned).
      if (n === 0 || (fd === this.directFd && n % DIRECT_ALIGN !== 0)) break;
    }
    return done;
  }

  async close(): Promise<void> {
    if (this.directFd >= 0) await closeAsync(this.directFd);
    await closeAsync(this.fd);
  }
}

/** Where `n` goes in the ascending array `a`. */
function sortedIndex(a: number[], n: number): number {
  let i = 0;
  while (i < a.length && a[i]! < n) i++;
  return i;
}

/** An O_DIRECT descriptor that really reads (some filesystems accept the flag and refuse the read), or -1. */
async function openDirect(path: string): Promise<number> {
  let fd: number;
  try {
    fd = await openAsync(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch {
    return -1;
  }
  try {
    await readAsync(fd, alignedBuffer(DIRECT_ALIGN), 0);
    return fd;
  } catch {
    await closeAsync(fd);
    return -1;
  }
}
