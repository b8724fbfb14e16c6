import { ChronodiskError } from '../errors.js';
import type { CommitPipeline } from './commit-pipeline.js';

/**
 * Holds new capture batches back while work that must meet none runs (a segment swap, an
 * index rebuild). Split capture begins a batch at any moment, so it awaits writesAllowed()
 * before each one; the held work starts once every commit in flight has settled (a track
 * step leaves its last batch syncing; pipelined split writes commit at once). One held
 * work at a time.
 */
export class WriteHold {
  private hold: Promise<void> | undefined;

  /** Resolves once no held work runs; undefined (nothing to await) mostly. */
  writesAllowed(): Promise<void> | undefined {
    return this.hold && this.released();
  }

  /** Runs `work` with new batches held back. It still checks `busy`: a scan pass's batch may be open. */
  async holding<T>(pipeline: CommitPipeline, work: () => Promise<T>): Promise<T> {
    await this.released();
    let release!: () => void;
    this.hold = new Promise<void>((resolve) => (release = resolve));
    try {
      await pipeline.commitsSettled();
      return await work();
    } finally {
      this.hold = undefined;
      release();
    }
  }

  /** holding(), refused ('busy', "a capture batch is open; `why`") while a capture batch is open. */
  betweenBatches<T>(pipeline: CommitPipeline, why: string, work: () => Promise<T>): Promise<T> {
    return this.holding(pipeline, async () => {
      if (pipeline.busy) throw new ChronodiskError('busy', `a capture batch is open; ${why}`);
      return work();
    });
  }

  private async released(): Promise<void> {
    while (this.hold) await this.hold;
  }
}
