import { ChronodiskError } from '../errors.js';
import type { CommitPipeline } from './commit-pipeline.js';

/**
 * Holds new capture batches back while work that must meet none runs (a segment swap, an
 * index rebuild). Split capture begins a batch at any moment, so it awaits writesAllowed()
 * before each one; the held work starts once every commit in flight has settled (a track
 * step leaves its last batch syncing; pipelined split writes commit at once). One held
 * work at a time, in the order asked: each waits for the one before it to end (a
 * scheduled thinning and the space guard's may ask at the same moment).
 */
export class WriteHold {
  /** Ends when the last held work asked for has ended. */
  private last: Promise<void> = Promise.resolve();
  /** Held works asked for and not yet ended: new batches wait while any is. */
  private active = 0;
  private idle: Array<() => void> = [];

  /** Resolves once no held work runs or waits to run; undefined (nothing to await) mostly. */
  writesAllowed(): Promise<void> | undefined {
    return this.active > 0 ? new Promise<void>((resolve) => this.idle.push(resolve)) : undefined;
  }

  /** Runs `work` with new batches held back. It still checks `busy`: a scan pass's batch may be open. */
  async holding<T>(pipeline: CommitPipeline, work: () => Promise<T>): Promise<T> {
    this.active++;
    const before = this.last;
    let ended!: () => void;
    this.last = new Promise<void>((resolve) => (ended = resolve));
    try {
      await before;
      await pipeline.commitsSettled();
      return await work();
    } finally {
      ended();
      if (--this.active === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  /** holding(), refused ('busy', "a capture batch is open; `why`") while a capture batch is open. */
  betweenBatches<T>(pipeline: CommitPipeline, why: string, work: () => Promise<T>): Promise<T> {
    return this.holding(pipeline, async () => {
      if (pipeline.busy) throw new ChronodiskError('busy', `a capture batch is open; ${why}`);
      return work();
    });
  }
}
