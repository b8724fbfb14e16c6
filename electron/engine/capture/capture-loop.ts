import type { Appliance } from '../appliance.js';
import { RateLimiter } from '../devices/io-priority.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { PointInfo } from '../timeline.js';
import { scanPass } from './scan-pass.js';
import { ensureSpace } from '../retention/space-guard.js';
import { TrackCapture } from './track-capture.js';

export type CaptureStatus = { state: 'capturing' | 'thinned' | 'paused'; message: string };

export interface CaptureLoopOptions {
  /** Seconds between scan passes of scan-mode disks. */
  scanIntervalSec: number;
  /** Bytes per second for scan reads; 0 = unlimited. */
  rateLimit: number;
  onPoint?: (p: PointInfo, how: 'scan' | 'track') => void;
  onError?: (disk: DiskRecord, e: unknown) => void;
  onStatus?: (s: CaptureStatus) => void;
}

/**
 * The appliance writer's continuous capture: every protected disk by its mode — scan
 * passes on an interval, track mode live. (Split-mode disks are served by their NBD
 * listener, which the writer starts beside this loop.) stop() ends every disk's capture
 * with a final durable point.
 */
export class CaptureLoop {
  private trackers: TrackCapture[] = [];
  private timers: NodeJS.Timeout[] = [];
  private scans = new Map<number, Promise<unknown>>();
  private limiter: RateLimiter;
  private stopped = false;
  /** One capture step at a time: thinning may only swap segments between batches. */
  private lane: Promise<unknown> = Promise.resolve();
  private paused = false;
  status: CaptureStatus = { state: 'capturing', message: 'capturing' };

  constructor(
    private readonly app: Appliance,
    private readonly options: CaptureLoopOptions,
  ) {
    this.limiter = new RateLimiter(options.rateLimit);
  }

  async start(): Promise<void> {
    for (const disk of this.app.disks()) {
      if (disk.mode === 'track') {
        const t = new TrackCapture(this.app, disk, {
          onPoint: this.options.onPoint,
          onError: (e) => this.options.onError?.(disk, e),
          gate: (step) => this.gate(step),
        });
        await t.start();
        this.trackers.push(t);
      } else if (disk.mode === 'scan') {
        this.scheduleScan(disk, 0);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.allSettled([...this.scans.values()]);
    await Promise.allSettled(this.trackers.map((t) => t.stop()));
  }

  /**
   * Runs one capture step in the single lane, after making sure the appliance has room:
   * thinning early when it is low, pausing (false) when nothing more can be thinned.
   */
  gate(step: () => Promise<void>): Promise<boolean> {
    const next = this.lane.then(async () => {
      const space = await ensureSpace(this.app);
      if (space.state === 'full') {
        if (!this.paused) this.setStatus({ state: 'paused', message: space.message });
        this.paused = true;
        return false;
      }
      if (space.state === 'thinned') this.setStatus({ state: 'thinned', message: space.message });
      if (this.paused) this.setStatus({ state: 'capturing', message: 'there is room again: capture resumed' });
      this.paused = false;
      await step();
      return true;
    });
    this.lane = next.catch(() => undefined);
    return next;
  }

  private setStatus(s: CaptureStatus): void {
    this.status = s;
    this.options.onStatus?.(s);
  }

  private scheduleScan(disk: DiskRecord, delayMs: number): void {
    const timer = setTimeout(() => {
      if (this.stopped) return;
      const run = this.gate(async () => {
        const r = await scanPass(this.app, disk, { limiter: this.limiter, commitUnchanged: false });
        if (!r.unchanged) this.options.onPoint?.(r.point, 'scan');
      })
        .catch((e) => this.options.onError?.(disk, e))
        .finally(() => {
          this.scans.delete(disk.id);
          // While paused, look again soon: room may come back (a bookmark removed, space freed).
          if (!this.stopped) this.scheduleScan(disk, this.paused ? Math.min(5000, this.options.scanIntervalSec * 1000) : this.options.scanIntervalSec * 1000);
        });
      this.scans.set(disk.id, run);
    }, delayMs);
    this.timers.push(timer);
  }
}
