import { readFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Appliance } from '../appliance.js';
import { CommitFlag } from '../format/constants.js';
import { ExportError, type NbdExport, type ZeroOptions } from '../nbd/export.js';
import { FileExport } from '../nbd/file-export.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { PointInfo } from '../timeline.js';
import { scanPass } from './scan-pass.js';
import { SplitApplyOrder } from './split-apply-order.js';
import { tuneGcForSplitCapture } from './gc-tuning.js';
import { probeProtectedSource } from './source-check.js';
import { SpaceWatch, type SpaceNews } from '../retention/space-watch.js';
import { isDriveFull } from '../errors.js';
import { EarlyWriteback } from '../store/early-writeback.js';

/** Bytes applied to the source between two background fdatasyncs of it (see EarlyWriteback). */
const SOURCE_WRITEBACK = 32 * 1024 * 1024;

export interface SplitEvents {
  onPoint?: (p: PointInfo) => void;
  /** The space guard thinned early, found the appliance full, or found room again. */
  onSpace?: (s: SpaceNews) => void;
  /** The space guard failed (an I/O error while thinning). */
  onSpaceError?: (e: unknown) => void;
}

/**
 * Split capture (exact CDP, the appliance patent's write splitter): an NBD export stands in
 * front of the source. Each write is committed durably in the appliance, then applied to
 * the source, then acknowledged — so every acknowledged write is a point. FLUSH and FUA
 * also mark crash-consistent points; TRIM and WRITE_ZEROES are captured as zeroes.
 *
 * Writes in flight at once (pipelined clients, several connections) are separate batches,
 * so each is its own point, but their commits share one fdatasync (the segment writer's
 * group commit), and their source writes run side by side unless they overlap.
 *
 * The source may lag the appliance after a crash (committed, not yet written through), or
 * after a write the appliance failed (a full drive) whose record still became durable:
 * start() re-applies every range written since the last point known to be on the source.
 *
 * Nothing pauses between split writes, so a SpaceWatch keeps the appliance above its
 * floor: it thins early in the background, and new writes wait while segments are swapped.
 */
export class SplitCapture {
  private order = new SplitApplyOrder(0);
  /** The seq last recorded in the applied marker. */
  private markedSeq = 0;
  private readonly space: SpaceWatch;
  /** Has the disk write the source's data as it comes, so a FLUSH waits for little. */
  private readonly sourceWriteback = new EarlyWriteback(SOURCE_WRITEBACK);
  private appliedBytes = 0;
  /** Points made since start (writes and flushes): a stop after any of them ends with a final one. */
  private pointsMade = 0;

  private constructor(
    readonly app: Appliance,
    readonly disk: DiskRecord,
    private readonly events: SplitEvents,
  ) {
    this.space = new SpaceWatch(
      app,
      `each write to ${disk.name} through the splitter is still a point, but writes fail once the appliance's drive has no room left`,
      (s) => events.onSpace?.(s),
      (e) => events.onSpaceError?.(e),
    );
  }

  static async start(app: Appliance, disk: DiskRecord, events: SplitEvents = {}): Promise<SplitCapture> {
    await probeProtectedSource(disk);
    tuneGcForSplitCapture();
    const s = new SplitCapture(app, disk, events);
    const latest = app.timeline.latest(disk);
    if (!latest) {
      // The baseline: what the source holds before the first write comes through us.
      const r = await scanPass(app, disk, { freeze: false });
      s.markApplied(r.point.seq);
      s.order = new SplitApplyOrder(r.point.seq);
    } else {
      await s.reapply(latest.seq);
    }
    return s;
  }

  /** One connection's view: reads from the source, writes through the appliance. */
  open(): NbdExport {
    const file = FileExport.open(this.disk.source);
    if (file.size !== this.disk.size) {
      void file.close();
      throw new ExportError('EIO', `${this.disk.source} changed size; it is no longer ${this.disk.name}`);
    }
    return new SplitExport(this, file);
  }

  /** Commits a write (or zeroes) durably, then writes it to the source; resolves once applied. */
  async capture(offset: number, data: Buffer | Buffer[] | { zeroes: number }, crashConsistent: boolean, apply: () => Promise<void>): Promise<void> {
    const held = this.app.writesAllowed();
    if (held) await held;
    const batch = this.app.beginBatch(this.disk);
    let length = 0;
    try {
      if ('zeroes' in data) {
        batch.writeZeroes(offset, data.zeroes);
        length = data.zeroes;
      } else {
        // The payload is ours: the socket delivered it in fresh buffers nobody reuses.
        for (const piece of Buffer.isBuffer(data) ? [data] : data) {
          batch.give(offset + length, piece);
          length += piece.length;
        }
      }
    } catch (e) {
      batch.abort();
      throw e;
    }
    let point: PointInfo;
    let seq: number | undefined;
    try {
      point = await batch.commit({
        flags: crashConsistent ? CommitFlag.CrashConsistent : 0,
        onSeq: (s, firstSeq) => {
          seq = s;
          this.order.committing(s, firstSeq);
        },
      });
    } catch (e) {
      // A commit never given a seq placed no record: nothing of it can be on the appliance.
      if (seq !== undefined) this.order.commitFailed(seq);
      throw e;
    } finally {
      this.space.wrote();
    }
    this.pointsMade++;
    this.events.onPoint?.(point);
    await this.order.run(point.seq, offset, offset + length, apply);
    this.appliedBytes += length;
    this.sourceWriteback.written(0, this.disk.source, this.appliedBytes);
  }

  /**
   * A flush: every acknowledged write is already durable (in the appliance) and on the
   * source; the source's fdatasync lets the applied marker move up, and the point is
   * crash-consistent.
   */
  async flush(sourceFlush: () => Promise<void>): Promise<void> {
    const through = this.order.appliedThrough(); // taken first: only what the fdatasync covers
    await sourceFlush();
    await this.commitEmpty(CommitFlag.CrashConsistent);
    if (through > this.markedSeq) this.markApplied(through);
  }

  /** An empty batch: a point that marks the disk's state as it is now. */
  private async commitEmpty(flags: number): Promise<void> {
    const held = this.app.writesAllowed();
    if (held) await held;
    const point = await this.app.beginBatch(this.disk).commit({ flags });
    this.pointsMade++;
    this.events.onPoint?.(point);
  }

  /**
   * After the server has closed: waits for source writes still going, makes the source
   * durable and records how far it is applied, so the next start re-applies nothing. A
   * run that made points ends with a final one: no client is left, so the disk is
   * quiescent (crash-consistent) and the timeline shows where capture stopped.
   */
  async close(): Promise<void> {
    await this.space.settled();
    await this.order.settled();
    const through = this.order.appliedThrough();
    if (through > this.markedSeq) {
      const file = FileExport.open(this.disk.source);
      try {
        await file.flush();
      } finally {
        await file.close();
      }
      this.markApplied(through);
    }
    if (this.pointsMade === 0) return;
    try {
      await this.commitEmpty(CommitFlag.CrashConsistent | CommitFlag.Final);
    } catch (e) {
      // It holds no data: on a full drive the stop goes on without it (FORMAT.md: MAY be absent).
      if (!isDriveFull(e)) throw e;
    }
  }

  private appliedPath(): string {
    return join(this.app.dir, 'cache', `split-${this.disk.id}.applied`);
  }

  /** Records that the source holds everything up to `seq` durably (a cache: losing it only costs a re-apply). */
  private markApplied(seq: number): void {
    try {
      mkdirSync(join(this.app.dir, 'cache'), { recursive: true });
      writeFileSync(`${this.appliedPath()}.tmp`, `${seq}\n`);
      renameSync(`${this.appliedPath()}.tmp`, this.appliedPath());
      this.markedSeq = seq;
    } catch (e) {
      // The marker only saves work: with an older one, the next start re-applies a little more.
      if (!isDriveFull(e)) throw e;
      rmSync(`${this.appliedPath()}.tmp`, { force: true });
    }
  }

  /** Writes to the source every range committed after the last point known to be applied. */
  private async reapply(latest: number): Promise<void> {
    let applied = 0;
    try {
      applied = Number(readFileSync(this.appliedPath(), 'utf8').trim()) || 0;
    } catch {
      // unknown: re-apply everything (idempotent, only slower)
    }
    if (applied < latest) {
      const image = this.app.image(this.disk, latest);
      const file = FileExport.open(this.disk.source);
      try {
        for (const e of this.app.timeline.writtenBetween(this.disk, applied, latest)) {
          for (let at = e.offset; at < e.offset + e.length; at += 4 << 20) {
            const n = Math.min(4 << 20, e.offset + e.length - at);
            await file.write(at, image.readSync(at, n), false);
          }
        }
        await file.flush();
      } finally {
        await file.close();
      }
    }
    this.markApplied(latest);
    this.order = new SplitApplyOrder(latest);
  }
}

/** The per-connection export of a split-mode disk. */
class SplitExport implements NbdExport {
  readonly readOnly = false;
  readonly canMultiConn = true;

  constructor(
    private readonly capture: SplitCapture,
    private readonly file: FileExport,
  ) {}

  get size(): number {
    return this.file.size;
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.file.read(offset, length);
  }

  readInto(offset: number, into: Buffer): Promise<void> {
    return this.file.readInto(offset, into);
  }

  write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    return this.capture.capture(offset, data, fua, () => this.file.write(offset, data, fua));
  }

  /** A payload as the socket delivered it: committed piece by piece and written with one pwritev, no copy. */
  writev(offset: number, chunks: Buffer[], fua: boolean): Promise<void> {
    return this.capture.capture(offset, chunks, fua, () => this.file.writev(offset, chunks, fua));
  }

  flush(): Promise<void> {
    return this.capture.flush(() => this.file.flush());
  }

  trim(offset: number, length: number, fua: boolean): Promise<void> {
    // A trimmed range reads back as zeroes from then on: capture it as zeroes.
    return this.capture.capture(offset, { zeroes: length }, fua, () => this.file.zero(offset, length, { fua, noHole: false, fast: false }));
  }

  zero(offset: number, length: number, options: ZeroOptions): Promise<void> {
    return this.capture.capture(offset, { zeroes: length }, options.fua, () => this.file.zero(offset, length, options));
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
