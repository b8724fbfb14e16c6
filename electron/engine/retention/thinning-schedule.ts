import type { Appliance } from '../appliance.js';
import { planThinning } from './thin.js';
import { thinInRoom } from './space-guard.js';

/** How often a writer thins by the policies unless told otherwise: a day (`--thin-every`). */
export const DEFAULT_THIN_EVERY_SEC = 86_400;
/** The first round after a writer starts: soon, but after its first capture steps. */
const FIRST_ROUND_MS = 10 * 60_000;
/** Parts per round: a plan larger than the room is carried out part by part. */
const MAX_PARTS = 8;

export interface PolicyThinning {
  removedPoints: number;
  /** Logical bytes of overwritten data the removed points held. */
  bytesFreed: number;
  bytesRewritten: number;
  /** A capture batch was open, or the room ran out: the rest waits for the next round. */
  unfinished: boolean;
}

/**
 * Thins every disk's history to its retention policy now, as `prune` does, but in parts
 * that fit the room there is (a plan larger than the free space is carried out oldest
 * removals first, part after part). Unlike the space guard it follows the policy even
 * where a removal frees little: the person chose how much history to keep.
 */
export async function thinToPolicy(app: Appliance, nowUs: number): Promise<PolicyThinning> {
  const out: PolicyThinning = { removedPoints: 0, bytesFreed: 0, bytesRewritten: 0, unfinished: false };
  for (let part = 0; part < MAX_PARTS; part++) {
    const plan = planThinning(app, nowUs);
    if (plan.removedPoints === 0 && plan.droppedDisks.length === 0) return out;
    const r = await thinInRoom(app, plan, (fitted) => fitted.removedPoints > 0 || fitted.droppedDisks.length > 0);
    if (r.state !== 'done') return { ...out, unfinished: true };
    out.removedPoints += r.plan.removedPoints;
    out.bytesFreed += r.plan.bytesFreed;
    out.bytesRewritten += r.bytesRewritten;
  }
  return { ...out, unfinished: planThinning(app, nowUs).removedPoints > 0 };
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
