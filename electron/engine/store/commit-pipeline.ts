import { MAX_RECORD_LENGTH, RecordFlag, RecordType } from '../format/constants.js';
import type { CommitRow, IndexDb, StagedWrite, Watermark } from '../index/index-db.js';
import { ChronodiskError } from '../errors.js';
import type { SegmentWriter } from './segment-writer.js';

/** What the pipeline knows of one batch still open (not yet committed). */
interface OpenBatch {
  diskId: number;
  firstSeq: number | undefined;
  /** Position of the first write not yet staged in the index (bounds the watermark). */
  firstUnstaged: Watermark | undefined;
  writes: StagedWrite[];
  bytes: number;
}

export interface CommitOptions {
  flags?: number;
  label?: string;
}

/** A point made by a commit. */
export interface CommitResult {
  seq: number;
  diskId: number;
  timeUs: number;
  flags: number;
  label: string | null;
  bytes: number;
}

const STAGE_THRESHOLD = 50_000;

/**
 * The writer's path from captured bytes to a durable, visible point. Writes get sequence
 * numbers and go into the open segment as they arrive; a commit appends its record, waits
 * for the shared fdatasync (group commit), then applies every durable batch to the index
 * in one transaction. Only then is the commit acknowledged, so an acknowledged point is
 * both durable and readable.
 */
export class CommitPipeline {
  private nextSeq: number;
  private lastTimeUs: number;
  private open = new Map<number, OpenBatch>();
  private toApply: Array<{ row: CommitRow; batch: OpenBatch; end: Watermark }> = [];

  constructor(
    private readonly writer: SegmentWriter,
    private readonly index: IndexDb,
    maxSeq: number,
    maxTimeUs: number,
  ) {
    this.nextSeq = maxSeq + 1;
    this.lastTimeUs = maxTimeUs;
  }

  begin(diskId: number): void {
    if (this.open.has(diskId)) throw new ChronodiskError('busy', `disk ${diskId} already has a capture batch open; finish it first`);
    this.open.set(diskId, { diskId, firstSeq: undefined, firstUnstaged: undefined, writes: [], bytes: 0 });
  }

  /** Appends `data` at `offset` of the disk to the batch (split into 64 KiB records). */
  write(diskId: number, offset: number, data: Buffer): void {
    const b = this.batch(diskId);
    this.guard(() => {
      for (let at = 0; at < data.length; at += MAX_RECORD_LENGTH) {
        const part = data.subarray(at, Math.min(data.length, at + MAX_RECORD_LENGTH));
        this.appendWrite(b, offset + at, part.length, part);
      }
    });
  }

  /**
   * A failed segment write cut the segment back to its last durable record (see
   * SegmentWriter), so every batch not yet acknowledged lost records: all of them end here,
   * and their callers see the error. The next batches start clean.
   */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      this.open.clear();
      this.toApply = [];
      throw e;
    }
  }

  /** Appends zeros (TRIM, WRITE_ZEROES, zero blocks): recorded without payload. */
  zero(diskId: number, offset: number, length: number): void {
    const b = this.batch(diskId);
    const zeros = Buffer.alloc(Math.min(length, MAX_RECORD_LENGTH));
    this.guard(() => {
      for (let at = 0; at < length; at += MAX_RECORD_LENGTH) {
        const n = Math.min(length - at, MAX_RECORD_LENGTH);
        this.appendWrite(b, offset + at, n, zeros.subarray(0, n));
      }
    });
  }

  abort(diskId: number): void {
    // The batch's records stay in the segment, unreferenced: without a commit they are never visible.
    this.open.delete(diskId);
  }

  async commit(diskId: number, options: CommitOptions = {}): Promise<CommitResult> {
    const b = this.batch(diskId);
    this.open.delete(diskId);
    const seq = this.nextSeq++;
    const timeUs = this.tick(true);
    const flags = options.flags ?? 0;
    const label = options.label ?? null;
    const body = label ? Buffer.from(JSON.stringify({ label })) : Buffer.alloc(0);
    const at = this.guard(() => this.writer.append({ type: RecordType.Commit, diskId, seq, timeUs, a: b.firstSeq ?? seq, b: flags, c: b.bytes }, body, false));
    const row: CommitRow = { seq, disk: diskId, time_us: timeUs, flags, label, batch_start: b.firstSeq ?? seq, bytes: b.bytes, segment: at.segmentId, rec_offset: at.offset };
    const entry = { row, batch: b, end: { segment: at.segmentId, offset: at.end } };
    this.toApply.push(entry);
    try {
      await this.writer.sync();
    } catch (e) {
      this.open.clear();
      this.toApply = [];
      throw e;
    }
    this.applyDurable(entry);
    return { seq, diskId, timeUs, flags, label, bytes: b.bytes };
  }

  /** Batches open or commits not yet applied: the segments may not be swapped now. */
  get busy(): boolean {
    return this.open.size > 0 || this.toApply.length > 0;
  }

  hasOpenBatch(diskId: number): boolean {
    return this.open.has(diskId);
  }

  private batch(diskId: number): OpenBatch {
    const b = this.open.get(diskId);
    if (!b) throw new Error(`no capture batch open for disk ${diskId}`);
    return b;
  }

  private appendWrite(b: OpenBatch, offset: number, length: number, data: Buffer): void {
    const seq = this.nextSeq++;
    const loc = this.writer.append({ type: RecordType.Write, diskId: b.diskId, seq, timeUs: this.tick(false), a: offset, b: length, c: 0 }, data, true);
    b.firstSeq ??= seq;
    b.firstUnstaged ??= { segment: loc.segmentId, offset: loc.offset };
    // A zero record is filed under the negated segment id: reads skip it without any I/O.
    const segment = loc.flags & RecordFlag.Zero ? -loc.segmentId : loc.segmentId;
    b.writes.push({ seq, disk: b.diskId, start: offset, end: offset + length, segment, recOffset: loc.offset });
    b.bytes += length;
    if (b.writes.length >= STAGE_THRESHOLD) this.stage(b);
  }

  /** Moves a long batch's write list into the index's staging table, bounding memory. */
  private stage(b: OpenBatch): void {
    const writes = b.writes;
    this.index.db.transaction(() => {
      for (const w of writes) this.index.stage(w);
    })();
    b.writes = [];
    b.firstUnstaged = undefined;
  }

  /** Applies, in one transaction, every queued commit up to and including `upTo` (all durable). */
  private applyDurable(upTo: { row: CommitRow }): void {
    const i = this.toApply.findIndex((e) => e.row === upTo.row);
    if (i < 0) return; // an earlier caller already applied it
    const ready = this.toApply.splice(0, i + 1);
    this.index.db.transaction(() => {
      for (const e of ready) this.index.applyCommit(e.row, e.batch.writes);
      for (const e of ready) if (e.row.time_us > Number(this.index.meta('max_time_us') ?? 0)) this.index.setMeta('max_time_us', e.row.time_us);
      this.index.noteSeq(this.nextSeq - 1);
      this.index.setWatermark(this.safeWatermark(ready[ready.length - 1]!.end));
    })();
  }

  /** The furthest position replay may start from: nothing unstaged lies before it. */
  private safeWatermark(candidate: Watermark): Watermark {
    let w = candidate;
    const earlier = (a: Watermark, b: Watermark) => a.segment < b.segment || (a.segment === b.segment && a.offset < b.offset);
    const holders = [...this.open.values(), ...this.toApply.map((e) => e.batch)];
    for (const b of holders) if (b.firstUnstaged && earlier(b.firstUnstaged, w)) w = b.firstUnstaged;
    return w;
  }

  /** Wall-clock µs, never going backwards, so time → point stays well defined. */
  private tick(strict: boolean): number {
    const now = Date.now() * 1000;
    this.lastTimeUs = Math.max(this.lastTimeUs + (strict ? 1 : 0), now);
    return this.lastTimeUs;
  }
}
