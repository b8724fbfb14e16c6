import type { Appliance } from '../appliance.js';
import { RateLimiter } from '../devices/io-priority.js';
import { ChronodiskError, isChronodiskError } from '../errors.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { PointInfo } from '../timeline.js';
import { scanPass, type ScanOptions, type ScanResult } from './scan-pass.js';
import { ensureSpace, freeBytes } from '../retention/space-guard.js';
import { TrackCapture } from './track-capture.js';

const MiB = 1024 * 1024;
const fmtMiB = (bytes: number) => `${Math.round(bytes / MiB)} MiB`;

export type CaptureStatus = { state: 'capturing' | 'thinned' | 'paused'; message: string };

export interface CaptureLoopOptions {
  /** Seconds between scan passes of scan-mode disks. */
  scanIntervalSec: number;
  /** Bytes per second for scan reads; 0 = unlimited. */
  rateLimit: number;
  onPoint?: (p: PointInfo, how: 'scan' | 'track') => void;
  onError?: (disk: DiskRecord, e: unknown) => void;
  onStatus?: (s: CaptureStatus) => void;
  /** A scheduled scan pass of a disk began (true) or ended (false). */
  onScanning?: (disk: DiskRecord, running: boolean) => void;
}

/** What work run alone on a disk (a rollback) learns of its capture. */
export interface AloneContext {
  /** Track mode stopped cleanly: the disk's latest point holds every write made before. */
  trackedToLatest: boolean;
}

/**
 * The appliance writer's continuous capture: every protected disk by its mode — scan
 * passes on an interval, track mode live. (Split-mode disks are served by their NBD
 * listener, which the writer starts beside this loop.) stop() ends every disk's capture
 * with a final durable point. A long-lived writer (the service) also adds and removes
 * disks, pauses, runs a scan on request and runs work alone on one disk (a rollback).
 */
export class CaptureLoop {
  private trackers = new Map<number, TrackCapture>();
  private timers = new Map<number, NodeJS.Timeout>();
  private scans = new Map<number, Promise<unknown>>();
  private watched = new Map<number, DiskRecord>();
  private held = new Set<number>();
  private limiter: RateLimiter;
  private stopped = false;
  /** One capture step at a time: thinning may only swap segments between batches. */
  private lane: Promise<unknown> = Promise.resolve();
  private spaceFull = false;
  /** Bytes of free space the last few capture steps took: the guard keeps room for the next. */
  private recentSteps: number[] = [];
  private pausedBy: string | undefined;
  /**
   * Disks whose last capture step ran the appliance out of space, with the free bytes it
   * had when it began: their steps wait until clearly more is free (see roomForDisk).
   */
  private outgrown = new Map<number, { had: number; message: string }>();
  status: CaptureStatus = { state: 'capturing', message: 'capturing' };

  constructor(
    private readonly app: Appliance,
    private readonly options: CaptureLoopOptions,
  ) {
    this.limiter = new RateLimiter(options.rateLimit);
  }

  async start(): Promise<void> {
    for (const disk of this.app.disks()) await this.watch(disk);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    await Promise.allSettled([...this.scans.values()]);
    await Promise.allSettled([...this.trackers.values()].map((t) => t.stop()));
  }

  /** Starts capturing a disk by its mode (split disks are the listener's: nothing here). */
  async watch(disk: DiskRecord): Promise<void> {
    if (this.stopped || this.watched.has(disk.id)) return;
    this.watched.set(disk.id, disk);
    if (disk.mode === 'track') await this.startTracker(disk);
    else if (disk.mode === 'scan') this.scheduleScan(disk, 0);
  }

  /** Stops capturing a disk: its scan timer, the pass under way, its tracker (with a final point). */
  async unwatch(diskId: number): Promise<void> {
    this.watched.delete(diskId);
    this.outgrown.delete(diskId);
    clearTimeout(this.timers.get(diskId));
    this.timers.delete(diskId);
    await this.scans.get(diskId)?.catch(() => undefined);
    await this.stopTracker(diskId);
  }

  /** Whether capture was paused by pause(), and why. */
  get paused(): string | undefined {
    return this.pausedBy ?? (this.spaceFull ? this.status.message : undefined);
  }

  /** Pauses scan and track capture of every disk; a scan catches each up on resume(). */
  pause(reason: string): void {
    this.pausedBy = reason;
    this.setStatus({ state: 'paused', message: reason });
  }

  resume(): void {
    if (this.pausedBy === undefined) return;
    this.pausedBy = undefined;
    this.setStatus({ state: 'capturing', message: 'capture resumed' });
  }

  /** Applies changed settings at once: a new interval also re-times the scans now waiting. */
  configure(settings: { scanIntervalSec?: number; rateLimit?: number }): void {
    if (settings.rateLimit !== undefined) this.limiter.setRate(settings.rateLimit);
    if (settings.scanIntervalSec === undefined || settings.scanIntervalSec === this.options.scanIntervalSec) return;
    this.options.scanIntervalSec = settings.scanIntervalSec;
    for (const [id, timer] of this.timers) {
      const disk = this.watched.get(id);
      if (!disk || this.scans.has(id)) continue; // a pass under way schedules the next one itself
      clearTimeout(timer);
      this.scheduleScan(disk, settings.scanIntervalSec * 1000);
    }
  }

  /** Why a disk's capture waits for room (its last step filled the appliance), if it does. */
  waitingForRoom(diskId: number): string | undefined {
    return this.outgrown.get(diskId)?.message;
  }

  /** Whether a disk's capture is held for work running alone on it. */
  isHeld(diskId: number): boolean {
    return this.held.has(diskId);
  }

  /**
   * Runs one capture step in the single lane, after making sure the appliance has room:
   * thinning early when it is low, pausing (false) when nothing more can be thinned.
   * A step of a disk is skipped (false) while capture is paused or the disk is held.
   */
  gate(step: () => Promise<void>, diskId?: number): Promise<boolean> {
    return this.inLane(async () => {
      if (this.pausedBy !== undefined || (diskId !== undefined && this.held.has(diskId))) return false;
      if (!(await this.roomFor())) return false;
      if (diskId !== undefined && !this.roomForDisk(diskId)) return false;
      await this.measured(step, diskId);
      return true;
    });
  }

  /**
   * Whether a disk whose last step filled the appliance may try again: only once a quarter
   * more than it had then is free (at least 16 MiB more). Retrying sooner would read the
   * whole disk and fill the appliance again, for nothing, pass after pass.
   */
  private roomForDisk(diskId: number): boolean {
    const had = this.outgrown.get(diskId)?.had;
    if (had === undefined) return true;
    const free = freeBytes(this.app.dir);
    if (free < Math.max(had * 1.25, had + 16 * MiB)) return false;
    this.outgrown.delete(diskId);
    this.setStatus({ state: 'capturing', message: `there is more room now: capturing ${this.watched.get(diskId)?.name ?? 'the disk'} again` });
    return true;
  }

  /** An explicit scan pass (a person asked): runs while capture is paused, not while the disk is held or the appliance full. */
  captureNow(disk: DiskRecord, options: Omit<ScanOptions, 'limiter'> = {}): Promise<ScanResult> {
    if (this.held.has(disk.id)) return Promise.reject(new ChronodiskError('busy', `${disk.name} is being restored; capture it once that is done`));
    return this.inLane(async () => {
      if (!(await this.roomFor())) throw new ChronodiskError('no-space', `the appliance is full: ${this.status.message}`);
      const r = await this.measured(() => scanPass(this.app, disk, { ...options, limiter: this.limiter }), disk.id);
      this.outgrown.delete(disk.id);
      return r;
    });
  }

  /**
   * Runs `work` with no capture step of any disk beside it and this disk's capture held:
   * its tracker stopped (pending writes committed first), its scans skipped. Capture of
   * the disk starts again afterwards (track mode with a scan, so nothing is missed).
   */
  async alone<T>(disk: DiskRecord, work: (ctx: AloneContext) => Promise<T>): Promise<T> {
    if (this.held.has(disk.id)) throw new ChronodiskError('busy', `${disk.name} is already being restored`);
    this.held.add(disk.id);
    try {
      const tracker = this.trackers.get(disk.id);
      await this.stopTracker(disk.id);
      return await this.inLane(() => work({ trackedToLatest: tracker?.current ?? false }));
    } finally {
      this.held.delete(disk.id);
      const d = this.watched.get(disk.id);
      if (d?.mode === 'track' && !this.stopped) await this.startTracker(d).catch((e) => this.options.onError?.(d, e));
    }
  }

  /** Runs `work` between capture steps, when no batch of the loop is open (an index rebuild). */
  betweenSteps<T>(work: () => Promise<T>): Promise<T> {
    return this.inLane(work);
  }

  private inLane<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lane.then(fn);
    this.lane = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs a capture step, noting how much free space it took; a step of `diskId` that runs
   * out of space marks the disk as needing more room than it had.
   */
  private async measured<T>(step: () => Promise<T>, diskId?: number): Promise<T> {
    const before = freeBytes(this.app.dir);
    try {
      return await step();
    } catch (e) {
      if (diskId !== undefined && isChronodiskError(e, 'no-space')) {
        const name = this.watched.get(diskId)?.name ?? 'a disk';
        const message = `${name} needs more than the ${fmtMiB(before)} that was free on the appliance; its capture waits until more is free (free space on the appliance's drive, remove bookmarks, unprotect a disk, or use a larger drive)`;
        this.outgrown.set(diskId, { had: before, message });
        this.setStatus({ state: 'paused', message });
      }
      throw e;
    } finally {
      this.recentSteps = [...this.recentSteps.slice(-7), Math.max(0, before - freeBytes(this.app.dir))];
    }
  }

  /** ensureSpace, with the status it implies; false when capture must wait for room. */
  private async roomFor(): Promise<boolean> {
    const space = await ensureSpace(this.app, { reserveBytes: Math.max(0, ...this.recentSteps) });
    if (space.state === 'full') {
      if (!this.spaceFull) this.setStatus({ state: 'paused', message: space.message });
      this.spaceFull = true;
      return false;
    }
    if (space.state === 'thinned') this.setStatus({ state: 'thinned', message: space.message });
    if (this.spaceFull) this.setStatus({ state: 'capturing', message: 'there is room again: capture resumed' });
    this.spaceFull = false;
    return true;
  }

  private async startTracker(disk: DiskRecord): Promise<void> {
    const t = new TrackCapture(this.app, disk, {
      onPoint: this.options.onPoint,
      onError: (e) => this.options.onError?.(disk, e),
      gate: (step) => this.gate(step, disk.id),
    });
    this.trackers.set(disk.id, t);
    try {
      await t.start();
    } catch (e) {
      this.trackers.delete(disk.id);
      await t.stop().catch(() => undefined);
      throw e;
    }
  }

  private async stopTracker(diskId: number): Promise<void> {
    const t = this.trackers.get(diskId);
    this.trackers.delete(diskId);
    await t?.stop();
  }

  private setStatus(s: CaptureStatus): void {
    this.status = s;
    this.options.onStatus?.(s);
  }

  private scheduleScan(disk: DiskRecord, delayMs: number): void {
    const timer = setTimeout(() => {
      if (this.stopped || !this.watched.has(disk.id)) return;
      let began = false;
      const run = this.gate(async () => {
        began = true;
        this.options.onScanning?.(disk, true);
        const r = await scanPass(this.app, disk, { limiter: this.limiter, commitUnchanged: false });
        if (!r.unchanged) this.options.onPoint?.(r.point, 'scan');
      }, disk.id)
        .catch((e) => this.options.onError?.(disk, e))
        .finally(() => {
          if (began) this.options.onScanning?.(disk, false);
          this.scans.delete(disk.id);
          if (this.stopped || !this.watched.has(disk.id)) return;
          // While paused, look again soon: room may come back (a bookmark removed, space freed).
          const waiting = this.pausedBy !== undefined || this.spaceFull || this.outgrown.has(disk.id);
          this.scheduleScan(disk, waiting ? Math.min(5000, this.options.scanIntervalSec * 1000) : this.options.scanIntervalSec * 1000);
        });
      this.scans.set(disk.id, run);
    }, delayMs);
    this.timers.set(disk.id, timer);
  }
}
