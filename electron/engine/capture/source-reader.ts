import { close, open, read } from 'node:fs';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { fromFsError } from '../errors.js';

const openAsync = promisify(open);
const closeAsync = promisify(close);
const run = promisify(execFile);

function readAsync(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/**
 * Reads a source (device or image file) in large chunks with the next reads already in
 * flight while the caller works on the current one, so hashing overlaps I/O.
 */
export class SourceReader {
  private constructor(
    private readonly fd: number,
    readonly path: string,
    readonly size: number,
  ) {}

  static async open(path: string, size: number): Promise<SourceReader> {
    try {
      return new SourceReader(await openAsync(path, 'r'), path, size);
    } catch (e) {
      throw fromFsError(e, path);
    }
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
   * A yielded buffer is reused once the caller asks for the next one.
   */
  async *chunks(ranges: Array<{ offset: number; length: number }>, chunk: number, ahead = 2): AsyncGenerator<[number, Buffer]> {
    const jobs: Array<[number, number]> = [];
    for (const r of ranges) {
      for (let at = r.offset; at < r.offset + r.length; at += chunk) jobs.push([at, Math.min(chunk, r.offset + r.length - at)]);
    }
    if (jobs.length === 0) return;
    const longest = Math.max(...jobs.map((j) => j[1]));
    // One buffer per read in flight plus the one the caller holds.
    const buffers = Array.from({ length: Math.min(jobs.length, ahead + 1) }, () => Buffer.allocUnsafeSlow(longest));
    const inFlight: Array<Promise<Buffer>> = [];
    let started = 0;
    const startReads = () => {
      for (; started < jobs.length && inFlight.length < ahead; started++) {
        const [at, len] = jobs[started]!;
        const buf = buffers[started % buffers.length]!.subarray(0, len);
        inFlight.push(this.readFully(buf, at).then(() => buf));
      }
    };
    try {
      for (let i = 0; i < jobs.length; i++) {
        startReads();
        const buf = await inFlight.shift()!;
        // The caller is done with chunk i-1: its buffer takes the read of chunk i+ahead.
        startReads();
        yield [jobs[i]![0], buf];
      }
    } finally {
      // A caller that stops early must not close the fd under reads still running.
      await Promise.allSettled(inFlight);
    }
  }

  private async readFully(buf: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      let n: number;
      try {
        n = await readAsync(this.fd, buf.subarray(done), position + done);
      } catch (e) {
        throw fromFsError(e, this.path);
      }
      if (n === 0) {
        buf.fill(0, done);
        return;
      }
      done += n;
    }
  }

  close(): Promise<void> {
    return closeAsync(this.fd);
  }
}
