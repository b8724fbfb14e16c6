import type { RateLimiter } from '../devices/io-priority.js';

export type RestorePhase = 'catch-up' | 'write' | 'verify' | 'commit';

export interface RestoreProgress {
  phase: RestorePhase;
  done: number;
  total: number;
}

export interface RestoreOptions {
  onProgress?: (p: RestoreProgress) => void;
  /** Throttles writes to the target (bytes per second). */
  limiter?: RateLimiter;
  /** Cancels between chunks; what was made durable stays journalled, so running it again finishes it. */
  signal?: AbortSignal;
}

/** What a finished restore reports (the CLI's --json summary is this). */
export interface RestoreResult {
  kind: 'rollback' | 'copy';
  disk: string;
  /** The point restored. */
  seq: number;
  target: string;
  /** Bytes sent to the target by this run. */
  bytesWritten: number;
  /** Bytes the restore covers (the extents, or the whole image). */
  bytesPlanned: number;
  bytesVerified: number;
  verified: boolean;
  seconds: number;
  /** This run finished a journal left by an interrupted one. */
  resumed: boolean;
  /** Rollback: the point flagged as a restore, and the bookmark of the state before it. */
  restoreSeq?: number;
  beforeRestore?: { seq: number; label: string };
  /** Copy: sha256 of the whole target as read back. */
  sha256?: string;
  /** Seconds per phase. */
  phases: Partial<Record<RestorePhase, number>>;
}

/** Times the phases of a restore. */
export class PhaseClock {
  readonly phases: Partial<Record<RestorePhase, number>> = {};
  private readonly started = performance.now();

  async time<T>(phase: RestorePhase, fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.phases[phase] = (this.phases[phase] ?? 0) + (performance.now() - t) / 1000;
    }
  }

  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }
}
