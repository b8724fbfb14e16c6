import { preadFully, pwriteFully } from '../positional-io.js';
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromFsError } from '../errors.js';
import type { NbdExport, ZeroOptions } from '../nbd/export.js';
import type { TimeImage } from '../time-image.js';
import type { RestoreTarget } from './restore-target.js';

const BLOCK = 4096;

/**
 * The disk a hot-first restore serves while it copies: reads come from the point's image,
 * writes go to an overlay shared by every connection. When the copy is done, switchToTarget()
 * pauses requests, lands the overlay's blocks on the target, and from then on every read
 * and write goes to the target itself — so the writes made meanwhile are not lost.
 */
export class LiveExport implements NbdExport {
  readonly readOnly = false;
  readonly canMultiConn = false;
  readonly size: number;
  readonly blockSizes = { minimum: 1, preferred: BLOCK };
  private readonly dirty: Uint8Array;
  private direct = false;
  /** Writes run one at a time: partial blocks copy up without racing each other. */
  private writes: Promise<void> = Promise.resolve();
  private inflight = 0;
  private idle: (() => void) | undefined;
  private gate: Promise<void> = Promise.resolve();
  private overlayFd: number;
  /** Bytes written through the export (for the report). */
  bytesWrittenByClients = 0;

  constructor(
    private readonly image: TimeImage,
    private readonly target: RestoreTarget,
    dir = tmpdir(),
  ) {
    this.size = image.size;
    this.dirty = new Uint8Array(Math.ceil(image.size / BLOCK));
    const path = join(dir, `chronodisk-live-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      this.overlayFd = openSync(path, 'wx+', 0o600);
    } catch (e) {
      throw fromFsError(e, path);
    }
    unlinkSync(path); // gone with the process: the overlay only has to outlive the copy
  }

  get onTarget(): boolean {
    return this.direct;
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.request(async () => {
      const out = Buffer.alloc(length);
      if (this.direct) {
        await this.target.read(out, offset);
        return out;
      }
      // Runs of blocks from one side at a time.
      for (let pos = offset; pos < offset + length; ) {
        const b = Math.floor(pos / BLOCK);
        const isDirty = this.dirty[b] === 1;
        let end = Math.min(offset + length, (b + 1) * BLOCK);
        while (end < offset + length && (this.dirty[Math.floor(end / BLOCK)] === 1) === isDirty) end = Math.min(offset + length, end + BLOCK);
        const part = out.subarray(pos - offset, end - offset);
        if (isDirty) await this.pread(part, pos);
        else this.image.readInto(part, pos);
        pos = end;
      }
      return out;
    });
  }

  write(offset: number, data: Buffer): Promise<void> {
    const copy = Buffer.from(data); // the server recycles `data` once this resolves
    this.bytesWrittenByClients += copy.length;
    return this.request(() => this.serialWrite(offset, copy));
  }

  zero(offset: number, length: number, _options: ZeroOptions): Promise<void> {
    return this.request(() => this.serialWrite(offset, Buffer.alloc(length)));
  }

  async trim(): Promise<void> {
    // A hint only: keeping the bytes is always correct.
  }

  flush(): Promise<void> {
    return this.request(async () => {
      await this.writes;
      if (this.direct) await this.target.sync();
    });
  }

  /** Per-connection close: the export itself lives as long as the restore. */
  async close(): Promise<void> {}

  /**
   * Called once the image is on the target: waits for requests in flight, writes every
   * block the clients changed onto the target, makes it durable, and serves from the target.
   */
  async switchToTarget(): Promise<number> {
    let open!: () => void;
    this.gate = new Promise((r) => (open = r));
    try {
      while (this.inflight > 0) await new Promise<void>((r) => (this.idle = r));
      await this.writes;
      let landed = 0;
      const buf = Buffer.allocUnsafe(BLOCK);
      for (let b = 0; b < this.dirty.length; b++) {
        if (this.dirty[b] !== 1) continue;
        const at = b * BLOCK;
        const part = buf.subarray(0, Math.min(BLOCK, this.size - at));
        await this.pread(part, at);
        await this.target.write(part, at);
        landed += part.length;
      }
      await this.target.sync();
      this.direct = true;
      return landed;
    } finally {
      open();
    }
  }

  /** After serving ends: flushes and closes the target. */
  async release(): Promise<void> {
    await this.flush().catch(() => undefined);
    await this.target.close();
    this.closeOverlay();
  }

  closeOverlay(): void {
    if (this.overlayFd >= 0) closeSync(this.overlayFd);
    this.overlayFd = -1;
  }

  private async request<T>(fn: () => Promise<T>): Promise<T> {
    await this.gate;
    this.inflight++;
    try {
      return await fn();
    } finally {
      if (--this.inflight === 0) this.idle?.();
    }
  }

  private serialWrite(offset: number, data: Buffer): Promise<void> {
    const run = this.writes.then(() => (this.direct ? this.target.write(data, offset) : this.overlayWrite(offset, data)));
    this.writes = run.catch(() => undefined);
    return run;
  }

  /** Into the overlay; a block written in part gets the rest of its bytes from the image first. */
  private async overlayWrite(offset: number, data: Buffer): Promise<void> {
    const end = offset + data.length;
    for (let b = Math.floor(offset / BLOCK); b * BLOCK < end; b++) {
      const start = b * BLOCK;
      const stop = Math.min(start + BLOCK, this.size);
      if (this.dirty[b] !== 1 && (offset > start || end < stop)) {
        const block = Buffer.alloc(stop - start);
        this.image.readInto(block, start);
        await this.pwrite(block, start);
      }
      this.dirty[b] = 1;
    }
    await this.pwrite(data, offset);
  }

  private pread(into: Buffer, pos: number): Promise<void> {
    return preadFully(this.overlayFd, into, pos);
  }

  private pwrite(data: Buffer, pos: number): Promise<void> {
    return pwriteFully(this.overlayFd, data, pos);
  }
}
