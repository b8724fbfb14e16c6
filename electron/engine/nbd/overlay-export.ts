import { preadFully, pwriteFully } from '../positional-io.js';
/**
 * A throwaway copy-on-write overlay over any export, one per connection: writes land in an
 * unlinked temp file and read back on that connection; the base is never written, and the
 * next connection sees the original. This is how a VM boots a past image without touching
 * history.
 */
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fromFsError } from '../errors.js';
import type { AllocationExtent, ExportProvider, NbdExport, ZeroOptions } from './export.js';

/** Copy-on-write granularity: small enough for cheap partial writes, large enough for a small map. */
const BLOCK = 64 * 1024;
const BASE = 0;
const COPIED = 1;
const ZEROED = 2;

export class OverlayExport implements NbdExport {
  readonly readOnly = false;
  readonly canMultiConn = false; // each connection has its own overlay
  readonly size: number;
  private readonly state: Uint8Array;
  private readonly locks = new Map<number, Promise<void>>();
  private closed = false;

  private constructor(
    private readonly base: NbdExport,
    private readonly fd: number,
  ) {
    this.size = base.size;
    this.state = new Uint8Array(Math.ceil(base.size / BLOCK));
  }

  get blockSizes() {
    return this.base.blockSizes;
  }

  /** Wraps `base`; the overlay's storage is an unlinked file in `dir`, gone when the fd closes. */
  static open(base: NbdExport, dir = tmpdir()): OverlayExport {
    const path = join(dir, `chronodisk-overlay-${process.pid}-${randomBytes(6).toString('hex')}`);
    let fd: number;
    try {
      fd = openSync(path, 'wx+', 0o600);
    } catch (e) {
      throw fromFsError(e, path);
    }
    unlinkSync(path);
    return new OverlayExport(base, fd);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const kind = this.state[Math.floor(pos / BLOCK)];
      let runEnd = Math.min(end, (Math.floor(pos / BLOCK) + 1) * BLOCK);
      while (runEnd < end && this.state[Math.floor(runEnd / BLOCK)] === kind) runEnd = Math.min(end, runEnd + BLOCK);
      const n = runEnd - pos;
      if (kind === BASE) parts.push(await this.base.read(pos, n));
      else if (kind === ZEROED) parts.push(Buffer.alloc(n));
      else parts.push(await this.pread(pos, n));
      pos = runEnd;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    const end = offset + data.length;
    const jobs: Promise<void>[] = [];
    // Runs of whole blocks go straight to the overlay; partial blocks need the rest copied up.
    let runStart = -1;
    const writeRun = (stop: number): void => {
      if (runStart < 0) return;
      const s = runStart;
      runStart = -1;
      jobs.push(
        this.pwrite(data.subarray(s - offset, stop - offset), s).then(() => {
          for (let b = s / BLOCK; b * BLOCK < stop; b++) this.state[b] = COPIED;
        }),
      );
    };
    for (let pos = offset; pos < end; ) {
      const b = Math.floor(pos / BLOCK);
      const blockEnd = Math.min((b + 1) * BLOCK, this.size);
      const stop = Math.min(end, blockEnd);
      if (pos === b * BLOCK && stop === blockEnd) {
        if (runStart < 0) runStart = pos;
      } else {
        writeRun(pos);
        jobs.push(this.writePartial(pos, data.subarray(pos - offset, stop - offset)));
      }
      pos = stop;
    }
    writeRun(end);
    await Promise.all(jobs);
  }

  /** Zeroed blocks are holes, copied ones data, untouched ones whatever the base says. */
  async extents(offset: number, length: number): Promise<AllocationExtent[]> {
    const out: AllocationExtent[] = [];
    const push = (x: AllocationExtent): void => {
      const last = out[out.length - 1];
      if (last && last.zero === x.zero) last.length += x.length;
      else out.push({ ...x });
    };
    const end = offset + length;
    for (let pos = offset; pos < end; ) {
      const kind = this.state[Math.floor(pos / BLOCK)];
      let runEnd = Math.min(end, (Math.floor(pos / BLOCK) + 1) * BLOCK);
      while (runEnd < end && this.state[Math.floor(runEnd / BLOCK)] === kind) runEnd = Math.min(end, runEnd + BLOCK);
      if (kind === BASE && this.base.extents) {
        let covered = pos;
        for (const x of await this.base.extents(pos, runEnd - pos)) {
          const stop = Math.min(x.offset + x.length, runEnd);
          if (x.offset !== covered || stop <= covered) break;
          push({ offset: covered, length: stop - covered, zero: x.zero });
          covered = stop;
        }
        if (covered < runEnd) push({ offset: covered, length: runEnd - covered, zero: false }); // the base said less: call it data
      } else {
        push({ offset: pos, length: runEnd - pos, zero: kind === ZEROED });
      }
      pos = runEnd;
    }
    return out;
  }

  async flush(): Promise<void> {
    // Throwaway by design: nothing here ever needs to survive a crash.
  }

  async trim(offset: number, length: number): Promise<void> {
    await this.zero(offset, length, { fua: false, noHole: false, fast: false });
  }

  async zero(offset: number, length: number, _options: ZeroOptions): Promise<void> {
    const end = offset + length;
    const jobs: Promise<void>[] = [];
    for (let pos = offset; pos < end; ) {
      const b = Math.floor(pos / BLOCK);
      const stop = Math.min(end, (b + 1) * BLOCK, this.size);
      const whole = pos === b * BLOCK && stop === Math.min((b + 1) * BLOCK, this.size);
      if (whole) this.state[b] = ZEROED;
      else jobs.push(this.writePartial(pos, Buffer.alloc(stop - pos)));
      pos = stop;
    }
    await Promise.all(jobs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    await this.base.close?.();
  }

  /** A write inside one block: copy the block up first unless it is already in the overlay. */
  private writePartial(pos: number, slice: Buffer): Promise<void> {
    const b = Math.floor(pos / BLOCK);
    return this.withBlockLock(b, async () => {
      if (this.state[b] === COPIED) return this.pwrite(slice, pos);
      const start = b * BLOCK;
      const len = Math.min(BLOCK, this.size - start);
      const block = this.state[b] === ZEROED ? Buffer.alloc(len) : Buffer.from(await this.base.read(start, len));
      slice.copy(block, pos - start);
      await this.pwrite(block, start);
      this.state[b] = COPIED;
    });
  }

  /** Serialises copy-ups of one block, so two partial writes cannot undo each other. */
  private withBlockLock(b: number, fn: () => Promise<void>): Promise<void> {
    const prev = this.locks.get(b) ?? Promise.resolve();
    const result = prev.then(fn);
    const tail = result.catch(() => undefined);
    this.locks.set(b, tail);
    void tail.then(() => {
      if (this.locks.get(b) === tail) this.locks.delete(b);
    });
    return result;
  }

  private async pread(pos: number, n: number): Promise<Buffer> {
    const buf = Buffer.alloc(n);
    await preadFully(this.fd, buf, pos);
    return buf;
  }

  private pwrite(data: Buffer, pos: number): Promise<void> {
    return pwriteFully(this.fd, data, pos);
  }
}

/** The same exports, each opened under its own throwaway overlay. */
export function withOverlay(provider: ExportProvider, dir?: string): ExportProvider {
  return {
    list: () => provider.list(),
    async open(name) {
      const opened = await provider.open(name);
      return opened && { ...opened, export: OverlayExport.open(opened.export, dir) };
    },
  };
}
