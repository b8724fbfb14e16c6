/**
 * The order in which split writes its committed writes to the source. A write waits only
 * for earlier writes that overlap it, so the source ends as the appliance says; the others
 * go at once, side by side (pipelined clients keep dozens in flight). It also knows up to
 * which seq everything committed has reached the source, for the applied marker: every
 * commit is known from the moment its seq is given out (committing), so the marker stays
 * below one still pending or failed whatever order commits end in — below the first seq
 * of its batch, since its writes carry the seqs before its own, and a restart re-applies
 * the writes with seqs above the marker.
 */

interface Applying {
  /** The first seq of the commit's batch (its first write's; the commit's own when it has none). */
  firstSeq: number;
  start: number;
  end: number;
  /** Settles (never rejects) once the write has been tried. */
  settled: Promise<void>;
}

const ignore = (): void => undefined;

export class SplitApplyOrder {
  private readonly applying = new Set<Applying>();
  /** Commits given a seq that have neither been handed over nor failed: seq → the first seq of their batch. */
  private readonly pending = new Map<number, number>();
  /** The highest seq handed over so far. */
  private lastSeq: number;
  /** A commit or source write that failed: the marker stays below its batch until a restart re-applies. */
  private failedBelow = Infinity;

  constructor(appliedSeq: number) {
    this.lastSeq = appliedSeq;
  }

  /** Commit `seq` of the batch whose writes start at `firstSeq` was given out: until it is handed over (run) or fails, the marker stays below its batch. */
  committing(seq: number, firstSeq: number): void {
    this.pending.set(seq, firstSeq);
  }

  /** Runs `step` (the source write of commit `seq`, bytes [start, end)) after every earlier overlapping one. */
  run(seq: number, start: number, end: number, step: () => Promise<void>): Promise<void> {
    const firstSeq = this.pending.get(seq) ?? seq;
    this.pending.delete(seq);
    this.lastSeq = Math.max(this.lastSeq, seq);
    const before: Promise<void>[] = [];
    for (const a of this.applying) if (a.start < end && start < a.end) before.push(a.settled);
    const done = before.length === 0 ? step() : Promise.all(before).then(step);
    const entry: Applying = {
      firstSeq,
      start,
      end,
      settled: done.then(ignore, () => {
        this.failedBelow = Math.min(this.failedBelow, firstSeq);
      }),
    };
    this.applying.add(entry);
    void entry.settled.then(() => this.applying.delete(entry));
    return done;
  }

  /**
   * Commit `seq` failed, and its record may still be durable (the drive filled between the
   * segment's fdatasync and the index): the appliance may hold writes the source never
   * got. The marker stays below its batch until a restart re-applies.
   */
  commitFailed(seq: number): void {
    this.failedBelow = Math.min(this.failedBelow, this.pending.get(seq) ?? seq);
    this.pending.delete(seq);
  }

  /**
   * The highest seq such that every write at or below it has been written to the source
   * (not necessarily flushed: take it before the source's fdatasync).
   */
  appliedThrough(): number {
    let low = this.failedBelow;
    for (const firstSeq of this.pending.values()) low = Math.min(low, firstSeq);
    for (const a of this.applying) low = Math.min(low, a.firstSeq);
    return low === Infinity ? this.lastSeq : Math.min(this.lastSeq, low - 1);
  }

  /** Resolves once every write handed over so far has been tried. */
  async settled(): Promise<void> {
    await Promise.all([...this.applying].map((a) => a.settled));
  }
}
