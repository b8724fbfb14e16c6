import type { CommitOptions, CommitPipeline } from './store/commit-pipeline.js';
import type { DiskRecord } from './store/catalog-state.js';
import type { PointInfo } from './timeline.js';
import { ChronodiskError } from './errors.js';
import { checkLabel } from './labels.js';

/**
 * One capture batch of one disk: a scan pass, a tracker batch, one split write. Its writes
 * are invisible until commit() makes them a point; a batch never committed is never seen.
 */
export class CaptureBatch {
  private done = false;
  bytes = 0;

  constructor(
    readonly disk: DiskRecord,
    private readonly pipeline: CommitPipeline,
  ) {}

  write(offset: number, data: Buffer): void {
    this.check(offset, data.length);
    this.pipeline.write(this.disk.id, offset, data);
    this.bytes += data.length;
  }

  /**
   * write() without the copy: `data` (in a SharedArrayBuffer) is encoded and written to
   * the segment where it is. Leave it unchanged until released() resolves.
   */
  lend(offset: number, data: Buffer): void {
    this.check(offset, data.length);
    this.pipeline.write(this.disk.id, offset, data, 'lent');
    this.bytes += data.length;
  }

  /**
   * write() of bytes the caller hands over and never changes again (an NBD write's
   * payload): on a plain appliance, what looks incompressible is written to the segment
   * from `data` itself, with no copy and no encoder thread.
   */
  give(offset: number, data: Buffer): void {
    this.check(offset, data.length);
    this.pipeline.write(this.disk.id, offset, data, 'given');
    this.bytes += data.length;
  }

  /** Resolves once no memory lent so far is in use by the writer (it never rejects). */
  released(): Promise<void> {
    return this.pipeline.lentReleased();
  }

  writeZeroes(offset: number, length: number): void {
    this.check(offset, length);
    this.pipeline.zero(this.disk.id, offset, length);
    this.bytes += length;
  }

  /**
   * Resolves when the writer can take more: writes are encoded by worker threads, and a
   * long capture awaits this between writes so the bytes in flight stay bounded.
   */
  drained(): Promise<void> {
    return this.pipeline.drained();
  }

  /** Makes the batch a durable, visible point; resolves once both hold. */
  async commit(options: CommitOptions = {}): Promise<PointInfo> {
    if (options.label != null) {
      try {
        checkLabel(options.label, 'point');
      } catch (e) {
        this.abort();
        throw e;
      }
    }
    this.finish();
    const c = await this.pipeline.commit(this.disk.id, options);
    return { seq: c.seq, disk: this.disk.name, diskId: this.disk.id, timeUs: c.timeUs, flags: c.flags, label: c.label, bytes: c.bytes };
  }

  abort(): void {
    if (this.done) return;
    this.finish();
    this.pipeline.abort(this.disk.id);
  }

  private finish(): void {
    if (this.done) throw new Error('this capture batch is already committed or aborted');
    this.done = true;
  }

  private check(offset: number, length: number): void {
    if (this.done) throw new Error('this capture batch is already committed or aborted');
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.disk.size) {
      throw new ChronodiskError('usage', `a write of ${length} bytes at ${offset} lies outside ${this.disk.name} (${this.disk.size} bytes)`);
    }
  }
}
