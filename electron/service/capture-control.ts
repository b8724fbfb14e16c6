import type { CaptureState } from '../../shared/contract.js';
import type { Appliance } from '../engine/appliance.js';
import { CaptureLoop, type AloneContext } from '../engine/capture/capture-loop.js';
import type { ScanOptions, ScanResult } from '../engine/capture/scan-pass.js';
import { startSplitListener, type RunningSplit, type SplitListener } from '../engine/capture/split-listeners.js';
import { ChronodiskError } from '../engine/errors.js';
import type { DiskRecord } from '../engine/store/catalog-state.js';
import type { PointInfo } from '../engine/timeline.js';
import { oneLine } from './error-wire.js';
import type { EventHub } from './event-hub.js';
import { pointOf } from './wire-shapes.js';

/** Split capture makes a point of every write: its pointCommitted events are sent at most this often per disk (the latest). */
const SPLIT_EVENT_MS = 250;

interface SplitEvents {
  lastMs: number;
  timer?: NodeJS.Timeout;
  point?: PointInfo;
}

export interface CaptureControlOptions {
  /** Where split-mode disks listen (DIR/DISK.sock). */
  splitDir: string;
  scanIntervalSec: number;
  rateLimit: number;
}

/**
 * The service's capture, exactly as `chronodisk run` does it — a CaptureLoop for scan
 * and track disks, an NBD split listener per split disk — with its callbacks turned into
 * contract events: pointCommitted for each point, captureStatus whenever a disk's state
 * (idle, scanning, tracking, splitting, paused, error) changes. It also adds and removes
 * disks while running, pauses, scans on request, and holds one disk's capture while a
 * rollback runs alone on it.
 */
export class CaptureControl {
  private readonly loop: CaptureLoop;
  private splits = new Map<number, RunningSplit>();
  private errors = new Map<number, string>();
  private scanning = new Set<number>();
  private sent = new Map<number, string>();
  private splitEvents = new Map<number, SplitEvents>();

  constructor(
    private readonly app: Appliance,
    private readonly events: EventHub,
    private readonly options: CaptureControlOptions,
  ) {
    this.loop = new CaptureLoop(app, {
      scanIntervalSec: options.scanIntervalSec,
      rateLimit: options.rateLimit,
      onPoint: (p) => this.announce(p),
      onError: (disk, e) => this.failed(disk, e),
      onStatus: () => this.refreshAll(),
      onScanning: (disk, running) => this.setScanning(disk, running),
    });
  }

  /** Starts every disk's capture; a disk that cannot start (its source gone) shows 'error', the others run. */
  async start(): Promise<void> {
    for (const disk of this.app.disks()) {
      try {
        if (disk.mode === 'split') await this.startSplit(disk);
        else await this.loop.watch(disk);
      } catch (e) {
        this.failed(disk, e);
      }
    }
    this.refreshAll();
  }

  /** Ends capture with a final durable point of every disk (track), after the split listeners close. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.splits.values()].map((s) => s.close()));
    this.splits.clear();
    await this.loop.stop();
    for (const e of this.splitEvents.values()) this.flushSplitEvent(e);
  }

  get splitListeners(): SplitListener[] {
    return [...this.splits.values()].map(({ disk, listening }) => ({ disk, listening }));
  }

  /**
   * Starts capturing a newly protected disk. A track disk's first scan pass runs in the
   * background (the request that protected it does not wait for a whole-disk read).
   */
  async watch(disk: DiskRecord): Promise<void> {
    if (disk.mode === 'split') await this.startSplit(disk);
    else void this.loop.watch(disk).catch((e) => this.failed(disk, e));
    this.refresh(disk);
  }

  /** Stops capturing a disk that is being unprotected. */
  async unwatch(disk: DiskRecord): Promise<void> {
    const split = this.splits.get(disk.id);
    this.splits.delete(disk.id);
    await split?.close();
    await this.loop.unwatch(disk.id);
    this.sent.delete(disk.id);
    this.errors.delete(disk.id);
  }

  get paused(): string | undefined {
    return this.loop.paused;
  }

  pause(reason: string): void {
    this.loop.pause(reason);
    this.refreshAll();
  }

  resume(): void {
    this.loop.resume();
    this.refreshAll();
  }

  configure(settings: { scanIntervalSec: number; rateLimit: number }): void {
    this.loop.configure(settings);
  }

  stateOf(disk: DiskRecord): { state: CaptureState; message?: string } {
    if (this.loop.isHeld(disk.id)) return { state: 'paused', message: `capture of ${disk.name} waits while it is restored` };
    const error = this.errors.get(disk.id);
    if (disk.mode === 'split') return error ? { state: 'error', message: error } : { state: 'splitting', message: 'every write through the splitter is a point' };
    const paused = this.loop.paused ?? this.loop.waitingForRoom(disk.id);
    if (paused !== undefined) return { state: 'paused', message: paused };
    if (error) return { state: 'error', message: error };
    if (this.scanning.has(disk.id)) return { state: 'scanning' };
    return disk.mode === 'track' ? { state: 'tracking' } : { state: 'idle' };
  }

  /** A point was committed (by capture or by a job): clients hear of it. */
  announce(p: PointInfo): void {
    if (this.errors.delete(p.diskId)) this.refresh(this.app.disks().find((d) => d.id === p.diskId));
    const disk = this.app.disks().find((d) => d.id === p.diskId);
    if (disk?.mode !== 'split') return this.events.emit('pointCommitted', pointOf(p));
    // Split: the latest point of each window goes out, the first at once.
    const e = this.splitEvents.get(p.diskId) ?? { lastMs: -Infinity };
    this.splitEvents.set(p.diskId, e);
    e.point = p;
    if (e.timer) return;
    e.timer = setTimeout(() => this.flushSplitEvent(e), Math.max(0, e.lastMs + SPLIT_EVENT_MS - performance.now()));
  }

  private flushSplitEvent(e: SplitEvents): void {
    clearTimeout(e.timer);
    e.timer = undefined;
    e.lastMs = performance.now();
    if (e.point) this.events.emit('pointCommitted', pointOf(e.point));
    e.point = undefined;
  }

  /** An explicit scan pass of a scan or track disk (captureNow's job). */
  async captureNow(disk: DiskRecord, options: Omit<ScanOptions, 'limiter'>): Promise<ScanResult> {
    if (disk.mode === 'split') throw new ChronodiskError('usage', `${disk.name} is captured through split: every write is already a point`);
    this.setScanning(disk, true);
    try {
      const r = await this.loop.captureNow(disk, options);
      if (!r.unchanged) this.announce(r.point);
      return r;
    } finally {
      this.setScanning(disk, false);
    }
  }

  /**
   * Runs `work` alone on a disk (a rollback): no capture step of any disk beside it, this
   * disk's capture held — its tracker stopped after committing what it saw, its scans
   * skipped, its split listener closed (refused while NBD clients are attached).
   */
  async alone<T>(disk: DiskRecord, work: (ctx: AloneContext) => Promise<T>): Promise<T> {
    this.checkAlone(disk);
    const split = this.splits.get(disk.id);
    if (split) {
      this.splits.delete(disk.id);
      await split.close();
    }
    try {
      const held = this.loop.alone(disk, work);
      this.refresh(disk);
      return await held;
    } finally {
      if (split) await this.startSplit(disk).catch((e) => this.failed(disk, e));
      this.refresh(disk);
    }
  }

  /** Runs `work` between capture steps (see CaptureLoop.betweenSteps); split writes wait on the appliance itself. */
  betweenSteps<T>(work: () => Promise<T>): Promise<T> {
    return this.loop.betweenSteps(work);
  }

  /** Refuses work alone on a disk now (before a job is started for it): NBD clients attached through split. */
  checkAlone(disk: DiskRecord): void {
    const clients = this.splits.get(disk.id)?.clients() ?? 0;
    if (clients > 0) throw new ChronodiskError('busy', `${disk.name} has ${clients} NBD client(s) attached through split capture; disconnect them first`);
  }

  private async startSplit(disk: DiskRecord): Promise<void> {
    const running = await startSplitListener(this.app, disk, this.options.splitDir, {
      onPoint: (p) => this.announce(p),
      onError: (e) => this.failed(disk, e),
      // A full appliance shows on the disk (its writes will fail) until there is room again.
      onSpace: (s) => {
        if (s.state === 'full') this.failed(disk, new Error(s.message));
        else if (s.state === 'room' && this.errors.delete(disk.id)) this.refresh(disk);
      },
      onSpaceError: (e) => this.failed(disk, e),
    });
    this.splits.set(disk.id, running);
  }

  private failed(disk: DiskRecord, e: unknown): void {
    this.errors.set(disk.id, oneLine((e as Error)?.message ?? String(e)));
    this.refresh(disk);
  }

  private setScanning(disk: DiskRecord, running: boolean): void {
    if (running) this.scanning.add(disk.id);
    else this.scanning.delete(disk.id);
    this.refresh(disk);
  }

  private refreshAll(): void {
    for (const d of this.app.disks()) this.refresh(d);
  }

  /** Sends captureStatus when what a client would show for the disk changed. */
  private refresh(disk: DiskRecord | undefined): void {
    if (!disk || !this.app.disks().some((d) => d.id === disk.id)) return;
    const s = this.stateOf(disk);
    const key = `${s.state}\u0000${s.message ?? ''}`;
    if (this.sent.get(disk.id) === key) return;
    this.sent.set(disk.id, key);
    this.events.emit('captureStatus', { disk: disk.name, ...s });
  }
}
