import type { Appliance } from '../appliance.js';
import { freeBytes } from '../store/free-space.js';
import { narrowPlan, planThinning, rewriteBytes, type ThinPlan } from './thin.js';
import { fitPlan, metadataMargin, thinInRoom } from './space-guard.js';

/** How often a writer thins by the policies unless told otherwise: a day (`--thin-every`). */
export const DEFAULT_THIN_EVERY_SEC = 86_400;
/** The first round after a writer starts: soon, but after its first capture steps. */
const FIRST_ROUND_MS = 10 * 60_000;
/**
 * The most a part rewrites (the segments of its removals). New split writes wait while a
 * part's segment swap runs, so a thinning beside a live disk goes in short parts, and
 * the disk's writes flow between them.
 */
export const PART_BYTES = 256 * 1024 * 1024;

export interface PolicyThinning {
  removedPoints: number;
  /** Logical bytes of overwritten data the removed points held. */
  bytesFreed: number;
  bytesRewritten: number;
  /** A capture batch was open, or the room ran out: the rest waits for the next round. */
  unfinished: boolean;
}

/**
 * Carries out `plan` part after part, oldest removals first: each part rewrites at most
 * `partBytes` and fits the free room (a part that cannot be that small is its oldest
 * removal alone). Capture's writes go on between parts; points captured since the plan
 * stay. Stops early, `unfinished`, when a capture batch is open or the room runs out.
 */
export async function thinInParts(app: Appliance, plan: ThinPlan, options: { partBytes?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<PolicyThinning> {
  const out: PolicyThinning = { removedPoints: 0, bytesFreed: 0, bytesRewritten: 0, unfinished: false };
  const removals = new Set(plan.disks.flatMap((d) => d.removed.map((r) => r.seq)));
  let dropDisks = plan.droppedDisks.length > 0;
  const total = rewriteBytes(app, plan);
  while (removals.size > 0 || dropDisks) {
    const rest = narrowPlan(app, plan, removals, dropDisks);
    const room = freeBytes(app.dir) - metadataMargin(app);
    let part = fitPlan(app, rest, Math.min(room, options.partBytes ?? PART_BYTES));
    if (part.removedPoints === 0 && part.droppedDisks.length === 0) {
      let oldest = Infinity; // a loop, not Math.min(...): a split disk's plan can hold millions
      for (const seq of removals) oldest = Math.min(oldest, seq);
      const alone = removals.size > 0 ? narrowPlan(app, rest, new Set([oldest]), false) : rest;
      if (rewriteBytes(app, alone) > room) return { ...out, unfinished: true };
      part = alone;
    }
    const r = await thinInRoom(app, part, () => true, room);
    if (r.state !== 'done') return { ...out, unfinished: true };
    const left = removals.size + (dropDisks ? 1 : 0);
    for (const d of r.plan.disks) for (const x of d.removed) removals.delete(x.seq);
    if (r.plan.droppedDisks.length > 0) dropDisks = false;
    if (removals.size + (dropDisks ? 1 : 0) === left) return { ...out, unfinished: true }; // no progress: never loop
    out.removedPoints += r.plan.removedPoints;
    out.bytesFreed += r.plan.bytesFreed;
    out.bytesRewritten += r.bytesRewritten;
    options.onProgress?.(Math.min(out.bytesRewritten, total), total);
  }
  return out;
}

/**
 * Thins every disk's history to its retention policy now, as `prune` does, in short parts
 * (thinInParts). Unlike the space guard it follows the policy even where a removal frees
 * little: the person chose how much history to keep.
 */
export function thinToPolicy(app: Appliance, nowUs: number): Promise<PolicyThinning> {
  return thinInParts(app, planThinning(app, nowUs));
}

export interface ThinningScheduleOptions {
  /** Seconds between rounds; 0: never (history is then thinned only when space runs low, or by prune). */
  everySec: number;
  /**
   * Runs a round: between capture steps (the capture loop's lane), skipped while capture
   * is paused by the person. The service makes it a job; `run` calls thinToPolicy.
   */
  round(): Promise<void>;
  onError(e: unknown): void;
}

/**
 * Thinning by the retention policies on a clock, as Time Machine thins its backups: every
 * writer (`run`, the service) keeps each disk's history to its policy, not only when the
 * appliance runs low. The first round comes ten minutes after the start (or sooner, for a
 * shorter interval), then one every `everySec`.
 */
export class ThinningSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: ThinningScheduleOptions) {}

  start(): void {
    if (this.options.everySec > 0) this.next(Math.min(FIRST_ROUND_MS, this.options.everySec * 1000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private next(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.options
        .round()
        .catch((e) => this.options.onError(e))
        .finally(() => {
          this.running = undefined;
          this.next(this.options.everySec * 1000);
        });
    }, ms);
    this.timer.unref();
  }
}
