import { MAX_RECORD_LENGTH, RecordFlag, RecordType } from '../format/constants.js';
import type { CommitRow, IndexDb, StagedWrite, Watermark } from '../index/index-db.js';
import { ChronodiskError, isDriveFull } from '../errors.js';
import type { EncoderPool } from './encoder-pool.js';
import type { EncodedRun } from './record-encoder.js';
import { encodeInlineRun, WRITE_FIELDS } from './record-encoder.js';
import { addWrite, extendLast, fits, newRun, runFull, runModeFor, topUpInline, type PendingRun, type WriteMode } from './write-runs.js';
import type { RecordLocation, SegmentWriter } from './segment-writer.js';

/** What the pipeline knows of one batch still open (not yet committed). */
interface OpenBatch {
  diskId: number;
  firstSeq: number | undefined;
  /** Position of the first write not yet staged in the index (bounds the watermark). */
  firstUnstaged: Watermark | undefined;
  writes: StagedWrite[];
  bytes: number;
  /** Ended without a commit (see loseBatch). */
  lost?: boolean;
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
/** A batch this small while nothing is in flight is encoded on the spot (one split write: latency). */
const INLINE_LIMIT = 64 * 1024;
/** In-flight bytes above which drained() makes capture wait for the encoders. */
const HIGH_WATER = 48 * 1024 * 1024;

/** A commit record in the segment, waiting for its fdatasync and then the index. */
interface PlacedCommit {
  row: CommitRow;
  batch: OpenBatch;
  end: Watermark;
  /** Set when a failure cut the record off before it was applied. */
  lost?: unknown;
  /** Set once its fdatasync is done: it may be applied. */
  durable?: boolean;
}

/**
 * The writer's path from captured bytes to a durable, visible point. Writes get sequence
 * numbers as they arrive and are encoded — by the encoder threads for large batches, on
 * the spot for a small one — then placed in the open segment strictly in sequence order.
 * A commit's record follows its writes; the commit waits for the shared fdatasync (group
 * commit), then applies every durable batch to the index in one transaction. Only then is
 * it acknowledged, so an acknowledged point is both durable and readable.
 */
export class CommitPipeline {
  private nextSeq: number;
  private lastTimeUs: number;
  private open = new Map<number, OpenBatch>();
  /** Batches whose commit() runs but whose commit record is not yet placed. */
  private committing = new Set<OpenBatch>();
  private toApply: PlacedCommit[] = [];
  /** The transaction that applies every commit made durable by the same fdatasync (see applyDurableSoon). */
  private applying: Promise<void> | undefined;
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
    private readonly index: IndexDb,
    private readonly encoders: EncoderPool,
    maxSeq: number,
    maxTimeUs: number,
  ) {
    this.nextSeq = maxSeq + 1;
    this.lastTimeUs = maxTimeUs;
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
    if (b) this.loseBatch(b);
    this.open.delete(diskId);
    this.encoders.forgetShared();
  }

  /**
   * A batch ended without a commit: its rows (and those of writes still in flight, as they
   * land) are staged with the next commits applied, so the disk's next commit files their
   * segments as lost (IndexDb.applyCommit) for thinning to rewrite. Not at once: a batch
   * fails on a full drive, where the index may take nothing either. The watermark moves
   * only in the transaction that stages them, so it never passes them unstaged.
   */
  private loseBatch(b: OpenBatch): void {
    b.lost = true;
    this.lostBatches.add(b);
  }

  private readonly lostBatches = new Set<OpenBatch>();

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
    const timeUs = this.tick(true);
    const flags = options.flags ?? 0;
    const label = options.label ?? null;
    const body = label ? Buffer.from(JSON.stringify({ label })) : Buffer.alloc(0);
    let entry!: PlacedCommit;
    try {
      await this.schedule(0, undefined, () => {
        const at = this.writer.append({ type: RecordType.Commit, diskId, seq, timeUs, a: b.firstSeq ?? seq, b: flags, c: b.bytes }, body, false);
        const row: CommitRow = { seq, disk: diskId, time_us: timeUs, flags, label, batch_start: b.firstSeq ?? seq, bytes: b.bytes, segment: at.segmentId, rec_offset: at.offset };
        entry = { row, batch: b, end: { segment: at.segmentId, offset: at.end } };
        this.toApply.push(entry);
      });
    } finally {
      this.committing.delete(b);
      // Every write of the batch is encoded now: the threads need not keep memory it lent.
      this.encoders.forgetShared();
    }
    try {
      await this.writer.sync();
    } catch (e) {
      this.fail(e);
      throw e;
    }
    // A write failure after the record was placed cut it off again (see fail()).
    if (entry.lost !== undefined) throw entry.lost;
    await this.applyDurableSoon(entry);
    if (entry.lost !== undefined) throw entry.lost;
    return { seq, diskId, timeUs, flags, label, bytes: b.bytes };
  }

  /** Batches open, commits or encodings in flight: the segments may not be swapped now. */
  get busy(): boolean {
    return this.open.size > 0 || this.committing.size > 0 || this.toApply.length > 0 || this.steps > 0 || this.run !== undefined || this.writer.writesInFlight;
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

  /** Records where a write landed; a long batch's list moves into the staging table. */
  private placed(b: OpenBatch, seq: number, offset: number, length: number, loc: RecordLocation): void {
    b.firstUnstaged ??= { segment: loc.segmentId, offset: loc.offset };
    // A zero record is filed under the negated segment id: reads skip it without any I/O.
    const segment = loc.flags & RecordFlag.Zero ? -loc.segmentId : loc.segmentId;
    b.writes.push({ seq, disk: b.diskId, start: offset, end: offset + length, segment, recOffset: loc.offset });
    if (b.lost) this.lostBatches.add(b);
    if (b.writes.length >= STAGE_THRESHOLD) this.stage(b);
  }

  /** Ends every batch not yet acknowledged with `e` (see schedule()). */
  private fail(e: unknown): void {
    this.batchesLost++;
    this.epoch++;
    this.lastFailure = e;
    // Durable commits keep their place: their records stay (a cut goes back only to the
    // last durable one), and the index must take them before any later commit.
    const lost = this.toApply.filter((c) => !c.durable);
    const ended = [...this.open.values(), ...this.committing, ...lost.map((x) => x.batch)];
    for (const b of ended) this.failures.set(b.diskId, e);
    // What of their writes was durable before the cut stays in the segments (see abort).
    for (const b of ended) this.loseBatch(b);
    for (const c of lost) c.lost = e;
    this.open.clear();
    this.toApply = this.toApply.filter((c) => c.durable);
    this.run = undefined;
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

  /**
   * Marks `entry` durable and applies it in one transaction with every other commit whose
   * fdatasync finished in the same turn: a group commit resolves all its waiters at once,
   * and their continuations run before this microtask, so pipelined split writes (each its
   * own commit) share one index transaction as they share one fdatasync.
   */
  private applyDurableSoon(entry: PlacedCommit): Promise<void> {
    entry.durable = true;
    this.applying ??= Promise.resolve().then(() => {
      this.applying = undefined;
      let last: PlacedCommit | undefined;
      for (const e of this.toApply) if (e.durable) last = e;
      if (last) this.applyDurable(last);
    });
    return this.applying;
  }

  /** Applies, in one transaction, every queued commit up to and including `upTo` (all durable). */
  private applyDurable(upTo: { row: CommitRow }): void {
    const i = this.toApply.findIndex((e) => e.row === upTo.row);
    if (i < 0) return; // an earlier caller already applied it
    const ready = this.toApply.splice(0, i + 1);
    try {
      const lost = [...this.lostBatches];
      this.index.db.transaction(() => {
        for (const b of lost) for (const w of b.writes) this.index.stage(w);
        for (const e of ready) this.index.applyCommit(e.row, e.batch.writes);
        // Commit times only grow (tick()): the group's last is its latest.
        const latest = ready[ready.length - 1]!.row.time_us;
        if (latest > Number(this.index.meta('max_time_us') ?? 0)) this.index.setMeta('max_time_us', latest);
        this.index.noteSeq(this.nextSeq - 1);
        this.index.setWatermark(this.safeWatermark(ready[ready.length - 1]!.end));
      })();
      for (const b of lost) {
        b.writes = [];
        b.firstUnstaged = undefined;
        this.lostBatches.delete(b);
      }
    } catch (e) {
      // The commits are durable in the segment; only the index (a cache) could not take
      // them — a full drive. They stay queued, first, so the next apply (or replay after a
      // restart, as the watermark stays before them) adds them: a later commit must never
      // reach the index without them, or its reads would miss their writes.
      this.toApply.unshift(...ready);
      if (isDriveFull(e)) throw new ChronodiskError('no-space', "the appliance's drive is full: the commit is on the appliance but its index could not be updated", { cause: e });
      throw e;
    }
  }

  /** The furthest position replay may start from: nothing unstaged lies before it. */
  private safeWatermark(candidate: Watermark): Watermark {
    let w = candidate;
    const earlier = (a: Watermark, b: Watermark) => a.segment < b.segment || (a.segment === b.segment && a.offset < b.offset);
    const holders = [...this.open.values(), ...this.committing, ...this.toApply.map((e) => e.batch)];
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
