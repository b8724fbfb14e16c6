import { MAX_RECORD_LENGTH, RecordFlag, RecordType } from '../format/constants.js';
import type { CommitRow, IndexDb } from '../index/index-db.js';
import { ChronodiskError } from '../errors.js';
import { CommitApplier, type OpenBatch, type PlacedCommit } from './commit-applier.js';
import type { EncoderPool } from './encoder-pool.js';
import type { EncodedRun } from './record-encoder.js';
import { encodeInlineRun, WRITE_FIELDS } from './record-encoder.js';
import { addWrite, extendLast, fits, newRun, runFull, runModeFor, topUpInline, type PendingRun, type WriteMode } from './write-runs.js';
import type { RecordLocation, SegmentWriter } from './segment-writer.js';

export interface CommitOptions {
  flags?: number;
  label?: string;
  /**
   * Told the commit's seq as soon as it is given out (before the commit is durable, or
   * fails), with the first seq of its batch (its first write's; `seq` itself when it has none).
   */
  onSeq?: (seq: number, firstSeq: number) => void;
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

/** A batch this small while nothing is in flight is encoded on the spot (one split write: latency). */
const INLINE_LIMIT = 64 * 1024;
/** In-flight bytes above which drained() makes capture wait for the encoders. */
const HIGH_WATER = 48 * 1024 * 1024;

/**
 * The writer's path from captured bytes to a durable, visible point. Writes get sequence
 * numbers as they arrive and are encoded — by the encoder threads for large batches, on
 * the spot for a small one — then placed in the open segment strictly in sequence order.
 * A commit's record follows its writes; the commit waits for the shared fdatasync (group
 * commit), then CommitApplier applies every durable batch to the index in one transaction.
 * Only then is it acknowledged, so an acknowledged point is both durable and readable.
 */
export class CommitPipeline {
  private nextSeq: number;
  private lastTimeUs: number;
  private open = new Map<number, OpenBatch>();
  /** Batches whose commit() runs but whose commit record is not yet placed. */
  private committing = new Set<OpenBatch>();
  private readonly applier: CommitApplier;
  private run: PendingRun<OpenBatch> | undefined;
  /** The last placement step: every step waits for the one before (sequence order). */
  private tail: Promise<void> = Promise.resolve();
  private steps = 0;
  private bytesInFlight = 0;
  private drainWaiters: Array<() => void> = [];
  /** Bumped by a failure: steps from before it are dropped, not placed. */
  private epoch = 0;
  /** What ended the batches at the last failure (the epoch bump). */
  private lastFailure: unknown;
  /** Why the batches of each disk ended, until the disk begins a new one. */
  private failures = new Map<number, unknown>();
  /** Resolves when no lent memory given so far is still used (see write()). */
  private lentTail: Promise<void> = Promise.resolve();
  private commitsInFlight = new Set<Promise<CommitResult>>();

  constructor(
    private readonly writer: SegmentWriter,
    index: IndexDb,
    private readonly encoders: EncoderPool,
    maxSeq: number,
    maxTimeUs: number,
  ) {
    this.nextSeq = maxSeq + 1;
    this.lastTimeUs = maxTimeUs;
    this.applier = new CommitApplier(
      index,
      () => [...this.open.values(), ...this.committing],
      () => this.nextSeq - 1,
    );
    // A cut removed records of batches not yet acknowledged: end them before anything
    // else is placed for them (a commit record naming writes that are gone is damage).
    writer.onCut = (e) => this.fail(e);
  }

  begin(diskId: number): void {
    if (this.open.has(diskId)) throw new ChronodiskError('busy', `disk ${diskId} already has a capture batch open; finish it first`);
    this.failures.delete(diskId);
    this.open.set(diskId, { diskId, firstSeq: undefined, firstUnstaged: undefined, writes: [], bytes: 0 });
  }

  /**
   * Appends `data` at `offset` of the disk to the batch (split into 64 KiB records). It is
   * copied, unless `lent`: then `data` (in a SharedArrayBuffer) is read by the encoder
   * threads and written to the segment where it is, and the caller leaves it unchanged
   * until lentReleased() resolves — one memory pass fewer per byte on the main thread.
   * `given` bytes are the pipeline's from now on (the caller drops them): what looks
   * incompressible is written from them as it is, the rest is copied.
   */
  write(diskId: number, offset: number, data: Buffer, how: WriteMode = 'copy'): void {
    if (how === 'lent' && !(data.buffer instanceof SharedArrayBuffer)) throw new TypeError('lent capture bytes must be in a SharedArrayBuffer');
    const b = this.batch(diskId);
    const start = how === 'given' ? topUpInline(this.run, b, offset, data, this.nextSeq - 1) : 0;
    b.bytes += start;
    for (let at = start; at < data.length; at += MAX_RECORD_LENGTH) {
      this.appendWrite(b, offset + at, data.subarray(at, Math.min(data.length, at + MAX_RECORD_LENGTH)), how);
    }
  }

  /** Resolves once the pipeline no longer uses any memory lent to write() so far (never rejects). */
  lentReleased(): Promise<void> {
    this.dispatch();
    return this.lentTail;
  }

  /** Appends zeros (TRIM, WRITE_ZEROES, zero blocks): recorded without payload. */
  zero(diskId: number, offset: number, length: number): void {
    const b = this.batch(diskId);
    for (let at = 0; at < length; at += MAX_RECORD_LENGTH) this.appendWrite(b, offset + at, Math.min(length - at, MAX_RECORD_LENGTH), 'copy');
  }

  /**
   * Resolves once the writes in flight to the encoders are few enough to take more: a
   * long capture awaits it between writes so memory stays bounded.
   */
  async drained(): Promise<void> {
    this.dispatch();
    while (this.bytesInFlight > HIGH_WATER) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /** Ends the batches in flight (the appliance is closing): nothing more is placed. */
  close(): void {
    this.fail(new ChronodiskError('busy', 'the appliance was closed before this capture batch was committed'));
  }

  /**
   * Batches ended without a commit so far (failed or aborted): their records may lie in
   * sealed segments nothing refers to (Appliance.reclaimUnreferenced looks only after one).
   */
  batchesLost = 0;

  abort(diskId: number): void {
    this.batchesLost++;
    // The batch's records stay in the segment, unreferenced: without a commit they are never visible.
    const b = this.open.get(diskId);
    if (b) this.applier.lose(b);
    this.open.delete(diskId);
    this.encoders.forgetShared();
  }

  /**
   * Makes the batch a durable, visible point. The batch ends at once (the disk may begin
   * its next batch while this one syncs); the promise resolves once it is durable and in
   * the index.
   */
  commit(diskId: number, options: CommitOptions = {}): Promise<CommitResult> {
    const c = this.commitBatch(diskId, options);
    this.commitsInFlight.add(c);
    const done = () => this.commitsInFlight.delete(c);
    c.then(done, done);
    return c;
  }

  /** Resolves once every commit begun so far is acknowledged or failed (never rejects). */
  async commitsSettled(): Promise<void> {
    await Promise.allSettled([...this.commitsInFlight]);
  }

  private async commitBatch(diskId: number, options: CommitOptions): Promise<CommitResult> {
    const b = this.batch(diskId);
    this.dispatch();
    this.open.delete(diskId);
    this.committing.add(b);
    const seq = this.nextSeq++;
    options.onSeq?.(seq, b.firstSeq ?? seq);
    const timeUs = this.tick(true);
    const flags = options.flags ?? 0;
    const label = options.label ?? null;
    const body = label ? Buffer.from(JSON.stringify({ label })) : Buffer.alloc(0);
    let entry!: PlacedCommit;
    /** The writer's serial just past the commit record: what this commit waits to be durable. */
    let serial = 0;
    try {
      await this.schedule(0, undefined, () => {
        const at = this.writer.append({ type: RecordType.Commit, diskId, seq, timeUs, a: b.firstSeq ?? seq, b: flags, c: b.bytes }, body, false);
        serial = this.writer.serial;
        const row: CommitRow = { seq, disk: diskId, time_us: timeUs, flags, label, batch_start: b.firstSeq ?? seq, bytes: b.bytes, segment: at.segmentId, rec_offset: at.offset };
        entry = { row, batch: b, end: { segment: at.segmentId, offset: at.end } };
        this.applier.add(entry);
      });
    } finally {
      this.committing.delete(b);
      // Every write of the batch is encoded now: the threads need not keep memory it lent.
      this.encoders.forgetShared();
    }
    // A cut meanwhile took the record (its serial would then name other bytes).
    if (entry.lost !== undefined) throw entry.lost;
    try {
      // Its own record, not whatever was placed after it meanwhile: a cut past the record
      // (it keeps what a running fdatasync covers) leaves this commit whole.
      await this.writer.sync(serial);
    } catch (e) {
      this.fail(e);
      throw e;
    }
    // A write failure after the record was placed cut it off again (see fail()).
    if (entry.lost !== undefined) throw entry.lost;
    await this.applier.applyWhenDurable(entry);
    if (entry.lost !== undefined) throw entry.lost;
    return { seq, diskId, timeUs, flags, label, bytes: b.bytes };
  }

  /** Batches open, commits or encodings in flight: the segments may not be swapped now. */
  get busy(): boolean {
    return this.open.size > 0 || this.committing.size > 0 || this.applier.pending || this.steps > 0 || this.run !== undefined || this.writer.writesInFlight;
  }

  hasOpenBatch(diskId: number): boolean {
    return this.open.has(diskId);
  }

  private batch(diskId: number): OpenBatch {
    const b = this.open.get(diskId);
    if (b) return b;
    if (this.failures.has(diskId)) throw this.failures.get(diskId);
    throw new Error(`no capture batch open for disk ${diskId}`);
  }

  /** One record's worth: `data`, or a number of zero bytes (sent to an encoder without a payload). */
  private appendWrite(b: OpenBatch, offset: number, data: Buffer | number, how: WriteMode): void {
    const length = typeof data === 'number' ? data : data.length;
    b.bytes += length;
    const mode = runModeFor(data, how, this.run, this.encoders.encrypted);
    if (typeof data !== 'number' && extendLast(this.run, b, offset, data, mode, this.nextSeq - 1)) {
      if (runFull(this.run!)) this.dispatch();
      return;
    }
    const seq = this.nextSeq++;
    const timeUs = this.tick(false);
    b.firstSeq ??= seq;
    if (this.steps === 0 && this.run === undefined && b.bytes <= INLINE_LIMIT) {
      try {
        const bytes = typeof data === 'number' ? Buffer.alloc(data) : data;
        const loc = this.writer.append({ type: RecordType.Write, diskId: b.diskId, seq, timeUs, a: offset, b: length, c: 0 }, bytes, true);
        this.placed(b, seq, offset, length, loc);
      } catch (e) {
        this.fail(e);
        throw e;
      }
      return;
    }
    // Zeros carry no bytes: they join whatever run is open.
    if (this.run && typeof data !== 'number' && !fits(this.run, data, mode)) this.dispatch();
    this.run ??= newRun(mode, how, data, this.encoders);
    addWrite(this.run, b, [b.diskId, seq, timeUs, offset], data);
    if (runFull(this.run)) this.dispatch();
  }

  /** Sends the gathered writes to an encoder thread (or encodes an inline run) and schedules their placement. */
  private dispatch(): void {
    const r = this.run;
    if (!r) return;
    this.run = undefined;
    let encoded: Promise<EncodedRun>;
    try {
      encoded =
        r.mode === 'inline'
          ? Promise.resolve(encodeInlineRun(r.fields, r.pieces))
          : this.encoders.encode({ data: r.data.buffer as ArrayBuffer | SharedArrayBuffer, writes: Float64Array.from(r.fields) });
    } catch (e) {
      this.fail(e); // the run's writes are gone: no batch of theirs may commit
      throw e;
    }
    let written: Promise<void> | undefined;
    // Lent bytes are bounded by the lender's memory (it waits for lentReleased()), not by drained().
    const step = this.schedule(r.mode === 'lent' ? 0 : r.used, encoded, (run) => {
      const payloadOf =
        r.mode === 'inline'
          ? (i: number) => r.pieces[r.fields[i * WRITE_FIELDS + 5]!]!
          : (i: number) => run!.data.subarray(r.fields[i * WRITE_FIELDS + 5]!, r.fields[i * WRITE_FIELDS + 5]! + r.fields[i * WRITE_FIELDS + 4]!);
      this.writer.appendRun(run!, payloadOf).forEach((loc, i) => {
        const f = i * WRITE_FIELDS;
        this.placed(r.batches[i]!, r.fields[f + 1]!, r.fields[f + 3]!, r.fields[f + 4]!, loc);
      });
      // The segment is written from the run's memory: it is reused only once that is done.
      // Inline runs hold no memory of ours: their records go with the next write or
      // fdatasync (one pwritev per group of split writes rather than one each).
      if (r.mode !== 'inline') written = this.writer.written().then(() => this.encoders.recycle(run!));
    });
    // After a failure the memory is not recycled, but lent memory is free once no write uses it.
    const released = step.then(
      () => written,
      () => this.quietlyWritten(),
    );
    if (r.mode === 'lent') this.lentTail = Promise.all([this.lentTail, released]).then(() => {});
    step.catch(() => {
      // fail() has recorded it for the batches' later write() and commit() calls.
    });
  }

  /** Resolves once the segment writer holds no memory given to it so far, whatever failed. */
  private async quietlyWritten(): Promise<void> {
    try {
      await this.writer.written();
    } catch {
      // the failure is reported to the batches by fail()
    }
  }

  /**
   * Runs `place` after every earlier step, once `encoded` is ready. A step that throws (a
   * full disk, a dead encoder thread) fails every batch not yet acknowledged: the segment
   * was cut back to its last durable record, so they all lost records.
   */
  private schedule(bytes: number, encoded: Promise<EncodedRun> | undefined, place: (run: EncodedRun | undefined) => void): Promise<void> {
    const epoch = this.epoch;
    encoded?.catch(() => {}); // awaited below, in turn; this only marks it handled
    this.steps++;
    this.bytesInFlight += bytes;
    const step = this.tail.then(async () => {
      const run = await encoded;
      if (this.writer.full) await this.writer.rotateAsync();
      if (epoch !== this.epoch) throw this.lastFailure;
      place(run);
    });
    this.tail = step
      .then(
        () => {},
        (e) => {
          if (epoch === this.epoch) this.fail(e);
        },
      )
      .finally(() => {
        this.steps--;
        this.bytesInFlight -= bytes;
        if (this.bytesInFlight <= HIGH_WATER) for (const w of this.drainWaiters.splice(0)) w();
      });
    return step;
  }

  /** Records where a write landed (for the index). */
  private placed(b: OpenBatch, seq: number, offset: number, length: number, loc: RecordLocation): void {
    // A zero record is filed under the negated segment id: reads skip it without any I/O.
    const segment = loc.flags & RecordFlag.Zero ? -loc.segmentId : loc.segmentId;
    this.applier.placed(b, { seq, disk: b.diskId, start: offset, end: offset + length, segment, recOffset: loc.offset }, { segment: loc.segmentId, offset: loc.offset });
  }

  /** Ends every batch not yet acknowledged with `e` (see schedule()). */
  private fail(e: unknown): void {
    this.batchesLost++;
    this.epoch++;
    this.lastFailure = e;
    const ended = [...this.open.values(), ...this.committing, ...this.applier.cutOff(e, (end) => this.writer.holds(end))];
    for (const b of ended) this.failures.set(b.diskId, e);
    // What of their writes was durable before the cut stays in the segments (see abort).
    for (const b of ended) this.applier.lose(b);
    this.open.clear();
    this.run = undefined;
  }

  /** Wall-clock µs, never going backwards, so time → point stays well defined. */
  private tick(strict: boolean): number {
    const now = Date.now() * 1000;
    this.lastTimeUs = Math.max(this.lastTimeUs + (strict ? 1 : 0), now);
    return this.lastTimeUs;
  }
}
