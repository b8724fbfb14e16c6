import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes, formatCount } from '../../shared/units.js';
import { restoreFiles, type RestoreFilesResult } from '../engine/files/file-restore.js';
import type { DiskAddress } from '../engine/files/disk-address.js';
import { copyToTarget } from '../engine/restore/copy-to-target.js';
import type { RestorePhase, RestoreProgress } from '../engine/restore/restore-result.js';
import { rollbackInPlace } from '../engine/restore/rollback.js';
import type { DiskRecord } from '../engine/store/catalog-state.js';
import type { PointInfo } from '../engine/timeline.js';
import type { JobContext, JobSpec, WorkPhase } from './job-runner.js';
import type { ServiceContext } from './service-context.js';

/** The job bodies of the restore requests: the checks that refuse a request ran before these start. */

const phaseOf: Record<RestorePhase, WorkPhase> = { 'catch-up': 'prepare', write: 'write', verify: 'verify', commit: 'commit' };
const reporter = (job: JobContext) => (p: RestoreProgress) => job.progress(phaseOf[p.phase], p.done, p.total);
const when = (p: PointInfo) => `point ${p.seq} (${formatIsoMicros(p.timeUs)})`;

/**
 * Rolls a protected disk back in place inside the service, with its own writer: the
 * disk's capture is held meanwhile, the capture brought up to date first (the tracker's
 * last batch, or a scan pass), then only what changed since the point is written back.
 */
export function rollbackJob(ctx: ServiceContext, disk: DiskRecord, point: PointInfo, device: string): JobSpec {
  const { app } = ctx;
  return {
    kind: 'restore-disk',
    title: `Roll ${disk.name} back to ${when(point)}`,
    disk: disk.name,
    claims: [`device:${device}`, `disk:${disk.name}`],
    run: (job) =>
      ctx.capture.alone(disk, async ({ trackedToLatest }) => {
        // Without a tracker that is current, the engine brings the capture up to date
        // itself — only for a fresh plan: an interrupted rollback finishes from its journal.
        const upToDate = trackedToLatest ? app.timeline.latest(disk) : undefined;
        const r = await rollbackInPlace(app, disk, point, { upToDate, signal: job.signal, onProgress: reporter(job), onCaughtUp: (p) => ctx.capture.announce(p) });
        if (r.restoreSeq === undefined) return { result: `${disk.name} already equals ${when(point)}: nothing was written since`, restore: r };
        const restored = app.timeline.pointAt(disk, r.restoreSeq);
        if (restored) ctx.capture.announce(restored);
        ctx.events.emit('bookmarksChanged', { disk: disk.name });
        return {
          result:
            `Rolled ${disk.name} back to point ${r.seq}${r.resumed ? ' (finishing an interrupted restore)' : ''}: wrote ${formatBytes(r.bytesWritten)}, ` +
            `verified ${formatBytes(r.bytesVerified)}; the timeline records it as point ${r.restoreSeq}, undo with @${r.beforeRestore!.label}`,
          restore: r,
        };
      }),
    cancelled: () => `Cancelled: ${disk.name} is partly rolled back; restore it to the same point again to finish`,
  };
}

/** Restores a point onto another disk: the whole image, then read back and compared. */
export function copyJob(ctx: ServiceContext, disk: DiskRecord, point: PointInfo, device: string): JobSpec {
  return {
    kind: 'restore-disk',
    title: `Restore ${disk.name} at ${when(point)} onto ${device}`,
    disk: disk.name,
    claims: [`device:${device}`],
    run: async (job) => {
      const r = await copyToTarget(ctx.app, disk, point, device, { signal: job.signal, onProgress: reporter(job) });
      return {
        result: `Restored ${disk.name} at point ${r.seq} onto ${device}${r.resumed ? ' (finishing an interrupted restore)' : ''}: wrote ${formatBytes(r.bytesWritten)}, verified ${formatBytes(r.bytesVerified)} (sha256 ${r.sha256})`,
        restore: r,
      };
    },
    cancelled: () => `Cancelled: ${device} is partly written; restore the same point onto it again to finish`,
  };
}

/** Where each group of paths goes: one folder for a restore folder, each file's own folder for the original place. */
export interface FileGroup {
  dest: string;
  paths: string[];
}

/** Copies files of a disk as they were out of its time image into the chosen destination. */
export function fileRestoreJob(ctx: ServiceContext, address: DiskAddress, point: PointInfo, groups: FileGroup[], label: string, overwrite: boolean): JobSpec {
  const count = groups.reduce((n, g) => n + g.paths.length, 0);
  let bytes = 0;
  return {
    kind: 'restore-files',
    title: `Restore ${count === 1 ? groups[0]!.paths[0] : `${count} items`} of ${address.disk} at ${when(point)} to ${label}`,
    disk: address.disk,
    claims: groups.map((g) => `folder:${g.dest}`),
    run: (job) =>
      ctx.files.use(address, point.seq, async (fs) => {
        const sum: RestoreFilesResult = { files: 0, dirs: 0, symlinks: 0, hardLinks: 0, skipped: [], bytes: 0 };
        for (const g of groups) {
          const before = bytes;
          const r = await restoreFiles(fs, g.paths, g.dest, {
            overwrite,
            keepOwner: process.getuid?.() === 0,
            signal: job.signal,
            onProgress: (done, total) => job.progress('write', (bytes = before + done), before + total),
          });
          for (const k of ['files', 'dirs', 'symlinks', 'hardLinks', 'bytes'] as const) sum[k] += r[k];
          sum.skipped.push(...r.skipped);
          bytes = before + r.bytes;
        }
        const skipped = sum.skipped.length ? `; skipped ${formatCount(sum.skipped.length, 'special file')}` : '';
        return `Restored ${formatCount(sum.files, 'file')}, ${formatCount(sum.dirs, 'folder')}, ${formatCount(sum.symlinks, 'symlink')} (${formatBytes(sum.bytes)}) from point ${point.seq} to ${label}${skipped}`;
      }),
    cancelled: () => `Cancelled after ${formatBytes(bytes)}: what was restored so far stays in ${label}`,
  };
}
