import type { Appliance } from '../appliance.js';
import { WriteTracker, type TrackerEvent } from '../devices/write-tracker.js';
import { CommitFlag } from '../format/constants.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { PointInfo } from '../timeline.js';
import { coalesce, type ByteRange } from './ranges.js';
import { scanPass } from './scan-pass.js';
import { probeProtectedSource } from './source-check.js';
import { SourceReader } from './source-reader.js';

const BATCH_MS = 200;
const ALIGN = 4096;
/** Reads of at most 1 MiB, two in flight, and room for this many more lent to the writer. */
const READ_CHUNK = 1024 * 1024;
const LENT_CHUNKS = 4;

export interface TrackCaptureEvents {
  onPoint?: (p: PointInfo, how: 'scan' | 'track') => void;
  onError?: (e: unknown) => void;
  /**
   * Runs each capture step; resolves false when capture is paused (the appliance is full),
   * in which case what was pending is dropped and a scan runs once capture resumes.
   */
  gate?: (step: () => Promise<void>) => Promise<boolean>;
}

/**
 * Track mode for one disk: the kernel's block tracepoint names written sectors; every
 * BATCH_MS the writer reads just those ranges from the device and commits them as a point
 * (crash-consistent when the batch ends at a flush). It starts with a scan pass, and runs
 * another whenever the trace lost events, so nothing is missed.
 */
export class TrackCapture {
  private pending: ByteRange[] = [];
  private sawFlush = false;
  private needScan = true;
  private tracker: WriteTracker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;
  /**
   * The last batch's commit, still syncing while the next batch is read (see
   * flushPending); resolves once it is acknowledged and announced.
   */
  private lastCommit: Promise<void> = Promise.resolve();

  constructor(
    private readonly app: Appliance,
    private readonly disk: DiskRecord,
    private readonly events: TrackCaptureEvents = {},
  ) {}

  async start(): Promise<void> {
    const info = await probeProtectedSource(this.disk);
    this.tracker = await WriteTracker.start(info, {
      name: this.disk.name,
      onEvents: (events) => this.absorb(events),
      onError: () => (this.needScan = true),
    });
    // Events from now on are kept; the first scan covers everything before.
    await this.cycle();
    this.timer = setInterval(() => void this.cycle(), BATCH_MS);
  }

  /** Commits what is pending as a final point, then stops tracking. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.busy;
    await new Promise((r) => setTimeout(r, 50)); // let the last trace lines arrive
    await this.flushPending(CommitFlag.Final).catch((e) => {
      this.needScan = true;
      this.events.onError?.(e);
    });
    await this.settle().catch((e) => {
      this.needScan = true;
      this.events.onError?.(e);
    });
    await this.tracker?.stop();
  }

  /**
   * After stop(): whether the latest point holds every write the trace saw (no lost
   * events, no failed batch, no scan owed). Work that needs the capture current (a
   * rollback) may then skip its own scan pass.
   */
  get current(): boolean {
    return this.stopped && !this.needScan;
  }

  private absorb(events: TrackerEvent[]): void {
    for (const e of events) {
      if (e.kind === 'write') this.pending.push({ offset: e.offset, length: e.length });
      else if (e.kind === 'flush') this.sawFlush = true;
      else this.needScan = true;
    }
  }

  /** One step at a time, through the gate; a failed step means a scan next time. */
  private cycle(): Promise<void> {
    this.busy = this.busy.then(async () => {
      if (this.stopped) return;
      const gate = this.events.gate ?? (async (step: () => Promise<void>) => (await step(), true));
      const ran = await gate(() => this.step()).catch((e) => {
        this.needScan = true;
        this.events.onError?.(e);
        return true;
      });
      if (!ran) {
        this.pending = [];
        this.needScan = true;
      }
    });
    return this.busy;
  }

  /** A scan pass when needed (start, lost events, after a pause), else the pending ranges. */
  private async step(): Promise<void> {
    if (this.needScan) {
      await this.settle();
      this.needScan = false;
      this.pending = [];
      const r = await scanPass(this.app, this.disk, { freeze: false, commitUnchanged: false });
      if (!r.unchanged) this.events.onPoint?.(r.point, 'scan');
    } else {
      await this.flushPending(0);
    }
  }

  /** Waits for the batch still syncing: its failure is the caller's step's. */
  private settle(): Promise<void> {
    const c = this.lastCommit;
    this.lastCommit = Promise.resolve();
    return c;
  }

  /**
   * Reads the pending ranges into a batch and commits it. The commit is not awaited here:
   * the next step reads and encodes the next batch while this one's fdatasync and index
   * transaction run, so the encoder threads do not idle between batches. A step awaits
   * the batch before its own once its own is on its way — at most two in flight, and
   * drained() bounds the bytes.
   */
  private async flushPending(extraFlags: number): Promise<void> {
    if (this.pending.length === 0 && !(extraFlags & CommitFlag.Final)) return this.settle();
    const ranges = coalesce(this.pending.splice(0), ALIGN, this.disk.size);
    const flush = this.sawFlush;
    this.sawFlush = false;
    if (ranges.length === 0) return this.settle();
    // Small reads every BATCH_MS: buffered (after dropping the device's stale pages) rather
    // than a fresh aligned buffer each time.
    const reader = await SourceReader.open(this.disk.source, this.disk.size, { direct: false });
    const batch = this.app.beginBatch(this.disk);
    let committing: Promise<PointInfo>;
    try {
      // The filesystem wrote these blocks through its own cache: drop the device's stale copies.
      await SourceReader.dropDeviceCache(this.disk.source);
      // Lent, not copied: the encoder threads read the read buffers where they are.
      const lending = { released: () => batch.released(), spare: LENT_CHUNKS };
      for await (const [at, buf] of reader.chunks(ranges, READ_CHUNK, 2, lending)) {
        batch.lend(at, buf);
        await batch.drained();
      }
      committing = batch.commit({ flags: (flush ? CommitFlag.CrashConsistent : 0) | extraFlags });
    } catch (e) {
      batch.abort();
      throw e;
    } finally {
      await reader.close();
    }
    const previous = this.settle();
    this.lastCommit = previous.then(
      () => committing.then((p) => this.events.onPoint?.(p, 'track')),
      // The batch before failed: the pipeline ended this one with it; `previous` reports it once.
      () => committing.then(() => undefined, () => undefined),
    );
    this.lastCommit.catch(() => undefined); // a failure waits for the next step's settle()
    await previous;
  }
}
