import type { Appliance } from '../appliance.js';
import { applianceFacts } from '../capture/protect.js';
import { scanPass } from '../capture/scan-pass.js';
import { probeProtectedSource } from '../capture/source-check.js';
import type { SourceInfo } from '../devices/block-device.js';
import { mountsOf, systemDisks } from '../devices/mounts.js';
import { holdersOf } from '../devices/sysfs-block.js';
import { checkProtectSource, checkRestoreTarget, factsOf, type TargetProblem } from '../devices/target-rules.js';
import { ChronodiskError } from '../errors.js';
import { CommitFlag } from '../format/constants.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { Extent, PointInfo } from '../timeline.js';
import { streamExtents } from './extent-stream.js';
import { refreshScanHashes } from './scan-hashes.js';
import { RestoreJournal, type RestoreJob } from './restore-journal.js';
import { PhaseClock, type RestoreOptions, type RestoreResult } from './restore-result.js';
import { RestoreTarget } from './restore-target.js';
import { verifyExtents } from './verify.js';

export interface RollbackOptions extends RestoreOptions {
  /**
   * The caller vouches that the capture is current up to this point (a service that has
   * just flushed its tracker). Without it, a scan pass brings the capture up to date.
   */
  upToDate?: PointInfo;
  /** Called with the point the catch-up scan committed (a fresh plan without upToDate), for the caller to announce. */
  onCaughtUp?: (point: PointInfo) => void;
}

/**
 * Rolls a protected disk back to a point in place. The capture is brought up to date and
 * that point bookmarked `before-restore-<seq>`; then only the byte ranges written since the
 * point (known from the index alone) get the point's bytes, are read back and compared,
 * and are committed as a new point flagged as a restore: the disk equals the point, and
 * the timeline says so. A journal makes an interrupted rollback finishable by running it again.
 */
export async function rollbackInPlace(app: Appliance, disk: DiskRecord, point: PointInfo, options: RollbackOptions = {}): Promise<RestoreResult> {
  const clock = new PhaseClock();
  const info = await probeRollbackDisk(app, disk);
  const journal = new RestoreJournal(app.dir);
  const plan = await planRollback(app, disk, point, info, journal, clock, options);
  if (!plan) {
    // Nothing was written since the point: the disk already equals it.
    return { kind: 'rollback', disk: disk.name, seq: point.seq, target: disk.source, bytesWritten: 0, bytesPlanned: 0, bytesVerified: 0, verified: true, seconds: clock.seconds, resumed: false, phases: clock.phases };
  }
  const { job, extents, upToDate, resumed } = plan;
  const image = app.image(disk, point.seq);
  // A journal whose restore point was already committed: the writes are done and were verified.
  const latest = app.timeline.latest(disk);
  const committed = resumed && job.seq === point.seq && latest && latest.seq > upToDate.seq && latest.flags & CommitFlag.Restore ? latest : undefined;
  const progress = (phase: 'write' | 'verify') => (done: number, total: number) => options.onProgress?.({ phase, done, total });

  const target = await RestoreTarget.open(info.realPath, { device: info.kind !== 'file' });
  const batch = committed ? undefined : app.beginBatch(disk);
  let written = 0;
  let restorePoint: PointInfo;
  let verified;
  try {
    const streamed = await clock.time('write', () =>
      streamExtents(image, extents, target, {
        startAt: committed ? job.total : job.watermark,
        limiter: options.limiter,
        signal: options.signal,
        // The restore point's batch: drained() holds the stream back while the encoders
        // are behind, so a large rollback does not pile its chunks up in memory.
        onChunk:
          batch &&
          ((offset, data) => {
            batch.write(offset, data);
            return batch.drained();
          }),
        onProgress: progress('write'),
        onDurable: (w) => journal.advance(job, w),
      }),
    );
    written = streamed.written;
    verified = await clock.time('verify', () => verifyExtents(image, extents, target, { chunkHashes: streamed.chunkHashes, signal: options.signal, onProgress: progress('verify') })).catch((e: unknown) => {
      // What is on the disk cannot be trusted: the next run writes it all again (unless only the check was cancelled).
      if (!options.signal?.aborted) journal.advance(job, 0);
      throw e;
    });
    restorePoint =
      committed ??
      (await clock.time('commit', () => batch!.commit({ flags: CommitFlag.Restore | (point.flags & CommitFlag.CrashConsistent), label: `restored to ${point.seq}` })));
  } catch (e) {
    batch?.abort();
    throw e;
  } finally {
    await target.close();
  }
  refreshScanHashes(app, disk, upToDate.seq, restorePoint, extents);
  journal.remove(job);
  return {
    kind: 'rollback',
    disk: disk.name,
    seq: point.seq,
    target: disk.source,
    bytesWritten: written,
    bytesPlanned: job.total,
    bytesVerified: verified.bytesVerified,
    verified: true,
    seconds: clock.seconds,
    resumed,
    restoreSeq: restorePoint.seq,
    beforeRestore: { seq: upToDate.seq, label: beforeRestoreLabel(upToDate) },
    phases: clock.phases,
  };
}

export const beforeRestoreLabel = (p: PointInfo) => `before-restore-${p.seq}`;

/**
 * Probes the protected disk and refuses it while it is mounted (naming the mount point),
 * stacked on, the system's, read-only or the appliance's own. Callers may run it before
 * asking for confirmation; rollbackInPlace runs it again.
 */
export async function probeRollbackDisk(app: Appliance, disk: DiskRecord): Promise<SourceInfo> {
  const { info, problems } = await rollbackProblems(app, disk);
  if (problems.length) throw new ChronodiskError('refused', `cannot roll back ${disk.name}: ${problems[0]!.message}`);
  return info;
}

/** Every rule that refuses rolling the protected disk back now (empty when it may be). Throws when the source cannot be probed. */
export async function rollbackProblems(app: Appliance, disk: DiskRecord): Promise<{ info: SourceInfo; problems: TargetProblem[] }> {
  const info = await probeProtectedSource(disk);
  const facts = factsOf(info);
  const problems = [
    ...checkRestoreTarget({
      target: facts,
      imageSize: disk.size,
      systemDisks: systemDisks(),
      mounts: info.kind === 'file' ? [] : mountsOf(info.realPath),
      holders: info.name ? holdersOf(info.name) : [],
    }),
    ...checkProtectSource({ source: facts, appliance: applianceFacts(app.dir), readable: true }),
  ];
  return { info, problems };
}

interface RollbackPlan {
  job: RestoreJob;
  extents: Extent[];
  upToDate: PointInfo;
  resumed: boolean;
}

/** A fresh plan (catch up, bookmark, extents since the point), or the journal's unfinished one. */
async function planRollback(
  app: Appliance,
  disk: DiskRecord,
  point: PointInfo,
  info: SourceInfo,
  journal: RestoreJournal,
  clock: PhaseClock,
  options: RollbackOptions,
): Promise<RollbackPlan | undefined> {
  const old = journal.forTarget(info.realPath);
  if (old && (old.kind !== 'rollback' || old.diskId !== disk.id)) {
    throw new ChronodiskError(
      'refused',
      `an unfinished restore (job ${old.id}: ${old.disk} to point ${old.seq}) is writing ${info.realPath}; run it again to finish it, or discard it (Jobs in the window, or chronodisk jobs --discard ${old.id})`,
    );
  }
  if (old) {
    const upToDate = old.upToDateSeq !== undefined ? app.timeline.pointAt(disk, old.upToDateSeq) : undefined;
    if (!upToDate) throw new ChronodiskError('damaged', `restore job ${old.id} names point ${old.upToDateSeq}, which ${disk.name} no longer has; discard it (Jobs in the window, or chronodisk jobs --discard ${old.id})`);
    let extents = journal.extentsOf(old);
    if (old.seq === point.seq) return { job: old, extents, upToDate, resumed: true };
    // Another point than the interrupted run's: the disk holds the up-to-date bytes except
    // inside the old extents, so the new point's bytes over both sets make it whole.
    extents = mergeExtents(extents, app.timeline.writtenBetween(disk, point.seq, upToDate.seq));
    const job = journal.create(jobFields(disk, point, info, upToDate, extents), extents);
    journal.remove(old);
    return { job, extents, upToDate, resumed: true };
  }
  const upToDate =
    options.upToDate ??
    (await clock.time('catch-up', async () => {
      const r = await scanPass(app, disk, { freeze: false, commitUnchanged: false, signal: options.signal, onProgress: (p) => options.onProgress?.({ phase: 'catch-up', done: p.done, total: p.total }) });
      if (!r.unchanged) options.onCaughtUp?.(r.point);
      return r.point;
    }));
  if (point.seq > upToDate.seq) throw new ChronodiskError('usage', `point ${point.seq} is later than ${disk.name}'s latest point ${upToDate.seq}`);
  const extents = app.timeline.writtenBetween(disk, point.seq, upToDate.seq);
  if (extents.length === 0) return undefined;
  const label = beforeRestoreLabel(upToDate);
  if (!app.bookmarks(disk).some((b) => b.label === label)) app.addBookmark(disk, upToDate, label);
  const job = journal.create(jobFields(disk, point, info, upToDate, extents), extents);
  return { job, extents, upToDate, resumed: false };
}

function jobFields(disk: DiskRecord, point: PointInfo, info: SourceInfo, upToDate: PointInfo, extents: Extent[]) {
  return {
    kind: 'rollback' as const,
    disk: disk.name,
    diskId: disk.id,
    seq: point.seq,
    target: info.realPath,
    upToDateSeq: upToDate.seq,
    total: extents.reduce((n, e) => n + e.length, 0),
  };
}

/** The union of two sorted extent lists, merged and sorted. */
export function mergeExtents(a: Extent[], b: Extent[]): Extent[] {
  const all = [...a, ...b].sort((x, y) => x.offset - y.offset);
  const out: Extent[] = [];
  for (const e of all) {
    const last = out[out.length - 1];
    if (last && e.offset <= last.offset + last.length) last.length = Math.max(last.length, e.offset + e.length - last.offset);
    else out.push({ ...e });
  }
  return out;
}
