import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ChronodiskError } from '../errors.js';
import type { SourceInfo } from './block-device.js';
import { type DevNumber, devKey, kernelDevNumber, sysDirOfDev } from './sysfs-block.js';
import { atProcessEnd } from './process-end.js';
import { TracePipeReader } from './trace-pipe.js';
import { ensureTracefs, instanceName, removeStaleInstances, TraceInstance } from './tracefs.js';

/**
 * Which byte ranges of a disk are being written, live, from the kernel's
 * block:block_rq_complete tracepoint (Linux, root). The tracepoint names the WHOLE disk
 * and its absolute sectors even for I/O to a partition, so we filter on the disk's dev_t
 * and clip and shift ranges into the source's own coordinates.
 */

export type TrackerEvent =
  /** Bytes [offset, offset + length) of the source changed (writes, discards, write-zeroes). */
  | { kind: 'write'; offset: number; length: number }
  /** A cache flush or FUA write completed: what was written before is durable. */
  | { kind: 'flush' }
  /** The kernel dropped events: some writes went unseen, so the caller must rescan. */
  | { kind: 'lost'; reason: string };

/** The window of a whole disk that the tracked source is. */
export interface TrackTarget {
  disk: DevNumber;
  /** Bytes from the start of the disk (0 unless the source is a partition). */
  start: number;
  size: number;
}

export function trackTargetOf(info: SourceInfo): TrackTarget {
  if (info.kind === 'file' || !info.dev) {
    throw new ChronodiskError('usage', `${info.path} is an image file: track mode needs a block device (use scan mode)`);
  }
  if (info.partition) return { disk: info.partition.parentDev, start: info.partition.start, size: info.size };
  return { disk: info.dev, start: 0, size: info.size };
}

export interface RqComplete {
  major: number;
  minor: number;
  rwbs: string;
  sector: number;
  sectors: number;
}

// "… block_rq_complete: 7,0 WS () 20482 + 2560 be,0,4 [0]"; the (cmd) part may hold spaces.
const RQ_COMPLETE = /block_rq_complete: (\d+),(\d+) (\S+) \(.*?\) (\d+) \+ (\d+) /;
const LOST = /\[LOST (?:(\d+) )?EVENTS\]/;

/** The count in a "CPU:1 [LOST 1656 EVENTS]" line (null when the kernel gives none), or undefined. */
export function parseLost(line: string): number | null | undefined {
  const m = LOST.exec(line);
  if (!m) return undefined;
  return m[1] ? Number(m[1]) : null;
}

export function parseRqComplete(line: string): RqComplete | undefined {
  const m = RQ_COMPLETE.exec(line);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), rwbs: m[3], sector: Number(m[4]), sectors: Number(m[5]) };
}

/**
 * The events one completed request means for a source. rwbs (blk_fill_rwbs): an optional
 * leading F (PREFLUSH), the operation (W write, D discard, N other such as write-zeroes,
 * R read, F flush), then F for FUA, and S/M/A hints. Anything but a read with sectors
 * changes the disk's content.
 */
export function eventsOf(rq: RqComplete, target: TrackTarget): TrackerEvent[] {
  const preflush = rq.rwbs.length > 1 && rq.rwbs[0] === 'F';
  const op = preflush ? rq.rwbs.slice(1) : rq.rwbs;
  const isFlushOp = op[0] === 'F';
  const fua = !isFlushOp && op.slice(1).includes('F');
  const out: TrackerEvent[] = [];
  if (preflush || isFlushOp) out.push({ kind: 'flush' });
  if (!isFlushOp && op[0] !== 'R' && rq.sectors > 0) {
    const from = Math.max(rq.sector * 512, target.start);
    const to = Math.min((rq.sector + rq.sectors) * 512, target.start + target.size);
    if (to > from) out.push({ kind: 'write', offset: from - target.start, length: to - from });
  }
  if (fua && rq.sectors > 0) out.push({ kind: 'flush' });
  return out;
}

/**
 * Only request-based (blk-mq) disks report block_rq_complete. Device-mapper volumes (LVM,
 * dm-crypt), md RAID and zram pass bios straight down, so their writes would go unseen:
 * refuse rather than track nothing.
 */
function assertRequestBased(disk: DevNumber, what: string): void {
  const dir = sysDirOfDev(disk);
  if (!dir) throw new ChronodiskError('not-found', `${what}: the kernel has no block device ${devKey(disk)}`);
  if (!existsSync(join(dir, 'mq'))) {
    throw new ChronodiskError(
      'refused',
      `${what} is a stacked or bio-based device (LVM, dm-crypt, md, zram): the kernel reports its writes only on the disks under it; use scan mode`,
    );
  }
}

/** Per-CPU ring size: roomy on small machines, the kernel's default (1408 KiB) on big ones. */
const defaultBufferKb = (): number => Math.max(1408, Math.min(4096, Math.floor(16384 / Math.max(1, availableParallelism()))));

export interface WriteTrackerOptions {
  /** Distinguishes this tracker's instance (e.g. the protected disk's name). */
  name: string;
  /** Receives events in the order the kernel reported them, a read's worth at a time. */
  onEvents: (events: TrackerEvent[]) => void;
  /** The pipe failed: the tracker has stopped reading; the caller should stop() and rescan. */
  onError?: (e: Error) => void;
  /** Ring buffer per CPU in KiB (default 4096 on up to 4 CPUs, down to 1408 on 12 or more; ~60 bytes a request). */
  bufferKb?: number;
  pollMs?: number;
  /** How often the per-CPU overrun counters are checked (default 1000 ms). */
  statsEveryMs?: number;
  tracefsRoot?: string;
}

export class WriteTracker {
  private lostSeen = 0;
  private lostLineSinceStats = false;
  private statsTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  /** Drops the process-end cleanup (the instance must not outlive the process; see process-end.ts). */
  private unregister: (() => void) | undefined;

  private constructor(
    readonly target: TrackTarget,
    private readonly instance: TraceInstance,
    private readonly opts: WriteTrackerOptions,
    private reader?: TracePipeReader,
  ) {}

  /** Starts tracking (removing instances left by dead processes first). */
  static async start(source: SourceInfo | TrackTarget, opts: WriteTrackerOptions): Promise<WriteTracker> {
    const target = 'kind' in source ? trackTargetOf(source) : source;
    assertRequestBased(target.disk, 'kind' in source ? source.path : devKey(target.disk));
    const root = await ensureTracefs(opts.tracefsRoot);
    removeStaleInstances(root);
    const instance = TraceInstance.create(root, instanceName(opts.name), { bufferKb: opts.bufferKb ?? defaultBufferKb() });
    const tracker = new WriteTracker(target, instance, opts);
    tracker.unregister = atProcessEnd(() => tracker.removeNow());
    try {
      const dev = kernelDevNumber(target.disk);
      // Drop reads in the kernel when its filter language allows it; else filter here.
      if (!instance.trySetFilter('block/block_rq_complete', `dev == ${dev} && !(rwbs ~ "R*")`)) {
        if (!instance.trySetFilter('block/block_rq_complete', `dev == ${dev}`)) {
          throw new ChronodiskError('internal', `the kernel rejected the tracing filter dev == ${dev}`);
        }
      }
      instance.enable('block/block_rq_complete');
      tracker.lostSeen = instance.lostCount();
      tracker.reader = new TracePipeReader(instance.pipePath, {
        pollMs: opts.pollMs,
        onLines: (lines) => tracker.onLines(lines),
        onError: (e) => tracker.fail(e),
      });
      tracker.statsTimer = setInterval(() => tracker.checkStats(), opts.statsEveryMs ?? 1000);
      tracker.statsTimer.unref();
    } catch (e) {
      await tracker.stop().catch(() => undefined);
      throw e;
    }
    return tracker;
  }

  get instanceDir(): string {
    return this.instance.dir;
  }

  private onLines(lines: string[]): void {
    const { major, minor } = this.target.disk;
    const events: TrackerEvent[] = [];
    for (const line of lines) {
      const rq = parseRqComplete(line);
      if (rq) {
        if (rq.major === major && rq.minor === minor) events.push(...eventsOf(rq, this.target));
        continue;
      }
      const lost = parseLost(line);
      if (lost !== undefined) {
        this.lostLineSinceStats = true;
        events.push({ kind: 'lost', reason: lost === null ? 'the kernel lost trace events' : `the kernel lost ${lost} trace events` });
      }
    }
    if (events.length > 0) this.opts.onEvents(events);
  }

  /** Overruns the pipe did not announce (e.g. dropped events) still mean missed writes. */
  private checkStats(): void {
    const now = this.instance.lostCount();
    if (now > this.lostSeen && !this.lostLineSinceStats) {
      this.opts.onEvents([{ kind: 'lost', reason: `the trace buffer overran (${now - this.lostSeen} events)` }]);
    }
    this.lostSeen = now;
    this.lostLineSinceStats = false;
  }

  private fail(e: Error): void {
    if (this.opts.onError) this.opts.onError(e);
    else this.opts.onEvents([{ kind: 'lost', reason: `reading the trace failed: ${e.message}` }]);
  }

  /** Synchronous teardown for exit and signal handlers. */
  removeNow(): void {
    this.reader?.closeNow();
    try {
      this.instance.remove();
    } catch {
      // nothing more to do while dying; the next start removes stale instances
    }
  }

  /**
   * Delivers every event the kernel has recorded so far, at once: after a write, an fsync
   * or a FIFREEZE has returned, its completions have reached onEvents when this resolves.
   */
  async drain(): Promise<void> {
    await this.reader?.drain();
  }

  /** Stops reading and removes the tracing instance. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.unregister?.();
      if (this.statsTimer) clearInterval(this.statsTimer);
      await this.reader?.close();
      this.instance.remove();
    })();
    return this.stopping;
  }
}
