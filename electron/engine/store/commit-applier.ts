import type { CommitRow, IndexDb, StagedWrite, Watermark } from '../index/index-db.js';
import { ChronodiskError, isDriveFull } from '../errors.js';

/** What the pipeline knows of one batch still open (not yet committed). */
export interface OpenBatch {
  diskId: number;
  firstSeq: number | undefined;
  /** Position of the first write not yet staged in the index (bounds the watermark). */
  firstUnstaged: Watermark | undefined;
  writes: StagedWrite[];
  bytes: number;
  /** Ended without a commit (see CommitApplier.lose). */
  lost?: boolean;
}

/** A commit record in the segment, waiting for its fdatasync and then the index. */
export interface PlacedCommit {
  row: CommitRow;
  batch: OpenBatch;
  end: Watermark;
  /** Set when a failure cut the record off before it was applied. */
  lost?: unknown;
  /** Set once its fdatasync is done: it may be applied. */
  durable?: boolean;
}

/** A batch with this many placed writes moves them into the index's staging table (memory stays bounded). */
const STAGE_THRESHOLD = 50_000;

/**
 * The index-facing half of the commit path: commit records placed in the segment wait
 * here, in sequence order, for their fdatasync; every durable one is then applied to the
 * index in one transaction, together with the rows of batches that ended without a
 * commit, and the replay watermark moves past them. The index is a cache of the segments,
 * so everything here may fail (a full drive) without losing a durable commit: it stays
 * queued for the next transaction, or for replay after a restart.
 */
export class CommitApplier {
  private queue: PlacedCommit[] = [];
  /** The transaction that applies every commit made durable by the same fdatasync (see applyWhenDurable). */
  private applying: Promise<void> | undefined;
  private readonly lostBatches = new Set<OpenBatch>();

  /**
   * @param unapplied batches the pipeline holds that are not queued here (open, or
   *   committing before their record is placed): the watermark never passes their writes.
   * @param lastSeq the last sequence number given out, noted in the index with each apply.
   */
  constructor(
    private readonly index: IndexDb,
    private readonly unapplied: () => Iterable<OpenBatch>,
    private readonly lastSeq: () => number,
  ) {}

  /** Commits placed but not yet applied. */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** Queues a placed commit record, after every one placed before it. */
  add(entry: PlacedCommit): void {
    this.queue.push(entry);
  }

  /** Records where one of a batch's writes landed; a long batch's list moves into the staging table. */
  placed(b: OpenBatch, write: StagedWrite, at: Watermark): void {
    b.firstUnstaged ??= at;
    b.writes.push(write);
    if (b.lost) this.lostBatches.add(b);
    if (b.writes.length >= STAGE_THRESHOLD) this.stage(b);
  }

  /**
   * A batch ended without a commit: its rows (and those of writes still in flight, as they
   * land) are staged with the next commits applied, so the disk's next commit files their
   * segments as lost (IndexDb.applyCommit) for thinning to rewrite. Not at once: a batch
   * fails on a full drive, where the index may take nothing either. The watermark moves
   * only in the transaction that stages them, so it never passes them unstaged.
   */
  lose(b: OpenBatch): void {
    b.lost = true;
    this.lostBatches.add(b);
  }

  /**
   * A failure cut the segment back: every queued commit not yet durable whose record the
   * cut removed (`kept` says no) is marked `lost` with `e` and dropped. Returns their
   * batches. The others keep their place: a durable commit's record stays, and so does one
   * a running fdatasync covers (the cut never goes below it) — it becomes durable, and then
   * a point like any other: reporting it failed would leave a point the writer never
   * acknowledged, that replay later finds. The index must take them before any later one.
   */
  cutOff(e: unknown, kept: (end: Watermark) => boolean = () => false): OpenBatch[] {
    const lost = this.queue.filter((c) => !c.durable && !kept(c.end));
    for (const c of lost) c.lost = e;
    this.queue = this.queue.filter((c) => c.lost === undefined);
    return lost.map((c) => c.batch);
  }

  /**
   * Marks `entry` durable and applies it in one transaction with every other commit whose
   * fdatasync finished in the same turn: a group commit resolves all its waiters at once,
   * and their continuations run before this microtask, so pipelined split writes (each its
   * own commit) share one index transaction as they share one fdatasync.
   */
  applyWhenDurable(entry: PlacedCommit): Promise<void> {
    entry.durable = true;
    this.applying ??= Promise.resolve().then(() => {
      this.applying = undefined;
      let last: PlacedCommit | undefined;
      for (const e of this.queue) if (e.durable) last = e;
      if (last) this.apply(last);
    });
    return this.applying;
  }

  /** Moves a long batch's write list into the index's staging table. */
  private stage(b: OpenBatch): void {
    const writes = b.writes;
    this.index.db.transaction(() => {
      for (const w of writes) this.index.stage(w);
    })();
    b.writes = [];
    b.firstUnstaged = undefined;
  }

  /** Applies, in one transaction, every queued commit up to and including `upTo` (all durable). */
  private apply(upTo: PlacedCommit): void {
    const i = this.queue.indexOf(upTo);
    if (i < 0) return; // an earlier caller already applied it
    const ready = this.queue.splice(0, i + 1);
    try {
      const lost = [...this.lostBatches];
      this.index.db.transaction(() => {
        for (const b of lost) for (const w of b.writes) this.index.stage(w);
        for (const e of ready) this.index.applyCommit(e.row, e.batch.writes);
        // Commit times only grow (CommitPipeline.tick): the group's last is its latest.
        const latest = ready[ready.length - 1]!.row.time_us;
        if (latest > Number(this.index.meta('max_time_us') ?? 0)) this.index.setMeta('max_time_us', latest);
        this.index.noteSeq(this.lastSeq());
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
      this.queue.unshift(...ready);
      if (isDriveFull(e)) throw new ChronodiskError('no-space', "the appliance's drive is full: the commit is on the appliance but its index could not be updated", { cause: e });
      throw e;
    }
  }

  /** The furthest position replay may start from: nothing unstaged lies before it. */
  private safeWatermark(candidate: Watermark): Watermark {
    let w = candidate;
    const earlier = (a: Watermark, b: Watermark) => a.segment < b.segment || (a.segment === b.segment && a.offset < b.offset);
    const holders = [...this.unapplied(), ...this.queue.map((e) => e.batch)];
    for (const b of holders) if (b.firstUnstaged && earlier(b.firstUnstaged, w)) w = b.firstUnstaged;
    return w;
  }
}
