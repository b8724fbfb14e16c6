import { closeSync, constants, openSync, read, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { fromFsError } from '../errors.js';

/**
 * Reads a tracefs trace_pipe continuously and hands over whole lines, in batches.
 *
 * The pipe is opened O_NONBLOCK and polled: a blocking read would park one of libuv's
 * four pool threads inside the kernel until the next event, and could not be
 * interrupted, so stop() could not close the pipe (and the instance could not be removed
 * while it is open). When a read returns data we read again at once; only an empty pipe
 * waits `pollMs`, which bounds the added latency.
 */

export interface TracePipeOptions {
  /** Wait between reads of an empty pipe (default 50 ms). */
  pollMs?: number;
  /** Bytes per read (default 256 KiB). */
  chunkSize?: number;
  onLines: (lines: string[]) => void;
  onError: (e: Error) => void;
}

export class TracePipeReader {
  private fd: number;
  private readonly buf: Buffer;
  private readonly decoder = new StringDecoder('utf8');
  /** The unfinished last line of the previous chunk (at most one line long). */
  private tail = '';
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly pollMs: number;

  constructor(
    readonly path: string,
    private readonly opts: TracePipeOptions,
  ) {
    try {
      this.fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw fromFsError(e, path);
    }
    this.buf = Buffer.allocUnsafe(opts.chunkSize ?? 256 * 1024);
    this.pollMs = opts.pollMs ?? 50;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.readOnce();
    }, ms);
  }

  private readOnce(): Promise<void> {
    return new Promise((resolve) => {
      read(this.fd, this.buf, 0, this.buf.length, null, (err, n) => {
        resolve();
        if (this.stopped) return;
        if (err) {
          if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK' || err.code === 'EINTR') return this.schedule(this.pollMs);
          this.opts.onError(fromFsError(err, this.path));
          return;
        }
        if (n > 0) this.deliver(this.decoder.write(this.buf.subarray(0, n)));
        this.schedule(n > 0 ? 0 : this.pollMs);
      });
    });
  }

  private deliver(text: string): void {
    const parts = text.split('\n');
    parts[0] = this.tail + parts[0];
    this.tail = parts.pop() ?? '';
    const lines = parts.filter((l) => l.length > 0);
    if (lines.length === 0) return;
    try {
      this.opts.onLines(lines);
    } catch (e) {
      this.opts.onError(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /**
   * Reads and delivers everything in the pipe now, without waiting for the next poll.
   * The kernel records a request's completion before it wakes the writer, so after a
   * write or fsync has returned (or FIFREEZE), its event is delivered when this resolves.
   */
  async drain(): Promise<void> {
    await this.inFlight; // a read in progress lands first, keeping the order
    while (!this.stopped) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') this.opts.onError(fromFsError(e, this.path));
        return;
      }
      if (n === 0) return;
      this.deliver(this.decoder.write(this.buf.subarray(0, n)));
    }
  }

  /** Closes the pipe at once, for exit and signal handlers where nothing async runs any more. */
  closeNow(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    closeSync(this.fd);
  }

  /** Stops polling and closes the pipe (after any read in progress, which never blocks). */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    closeSync(this.fd);
  }
}
