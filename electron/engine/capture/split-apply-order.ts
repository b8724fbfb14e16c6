/**
 * The order in which split writes its committed writes to the source. A write waits only
 * for earlier writes that overlap it, so the source ends as the appliance says; the others
 * go at once, side by side (pipelined clients keep dozens in flight). It also knows up to
 * which point everything committed has reached the source, for the applied marker.
 *
 * Callers hand writes over in commit (seq) order: the appliance's group commit resolves
 * commits in seq order, so a commit still pending always has a higher seq than any handed
 * over — which is what makes appliedThrough() sound.
 */

interface Applying {
  seq: number;
  start: number;
  end: number;
  /** Settles (never rejects) once the write has been tried. */
  settled: Promise<void>;
}

const ignore = (): void => undefined;

export class SplitApplyOrder {
  private readonly applying = new Set<Applying>();
  /** The highest seq handed over so far. */
  private lastSeq: number;
  /** A write that failed to reach the source: the marker stays below it until a restart re-applies. */
  private failedBelow = Infinity;

  constructor(appliedSeq: number) {
    this.lastSeq = appliedSeq;
  }

  /** Runs `step` (the source write of commit `seq`, bytes [start, end)) after every earlier overlapping one. */
  run(seq: number, start: number, end: number, step: () => Promise<void>): Promise<void> {
    this.lastSeq = Math.max(this.lastSeq, seq);
    const before: Promise<void>[] = [];
    for (const a of this.applying) if (a.start < end && start < a.end) before.push(a.settled);
    const done = before.length === 0 ? step() : Promise.all(before).then(step);
    const entry: Applying = {
      seq,
      start,
      end,
      settled: done.then(ignore, () => {
        this.failedBelow = Math.min(this.failedBelow, seq);
      }),
    };
    this.applying.add(entry);
    void entry.settled.then(() => this.applying.delete(entry));
    return done;
  }

  /**
   * A commit failed after its seq was handed out, and its record may still be durable (the
   * drive filled between the segment's fdatasync and the index): the appliance may hold a
   * write the source never got, above every seq handed over so far. The marker stays below
   * it until a restart re-applies.
   */
  commitFailed(): void {
    this.failedBelow = Math.min(this.failedBelow, this.lastSeq + 1);
  }

  /**
   * The highest seq such that every write at or below it has been written to the source
   * (not necessarily flushed: take it before the source's fdatasync).
   */
  appliedThrough(): number {
    let low = this.failedBelow;
    for (const a of this.applying) low = Math.min(low, a.seq);
    return low === Infinity ? this.lastSeq : low - 1;
  }

  /** Resolves once every write handed over so far has been tried. */
  async settled(): Promise<void> {
    await Promise.all([...this.applying].map((a) => a.settled));
  }
}
