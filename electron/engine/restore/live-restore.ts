import type { Appliance } from '../appliance.js';
import { ChronodiskError } from '../errors.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { PointInfo } from '../timeline.js';
import { inspectTarget } from './copy-to-target.js';
import { streamExtents } from './extent-stream.js';
import { LiveExport } from './live-export.js';
import { RestoreJournal } from './restore-journal.js';
import { PhaseClock, type RestoreOptions, type RestoreResult } from './restore-result.js';
import { RestoreTarget } from './restore-target.js';
import { verifyExtents } from './verify.js';

export interface LiveRestore {
  /** Serve this (over NBD) at once: the point's bytes, with writes kept. */
  export: LiveExport;
  /** Resolves when the image is on the target, verified, and the clients' writes have landed. */
  done: Promise<RestoreResult & { bytesFromClients: number }>;
}

/**
 * A hot-first restore onto another disk: the point is usable at once through `export`
 * while the whole image is copied onto the target in the background (journalled like any
 * copy, so an interrupted one is finished by a plain `restore --to`). When the copy is
 * verified, the writes clients made meanwhile land on the target and the export serves the
 * target itself. Until then those writes live in a temporary overlay of this process.
 */
export async function startLiveRestore(app: Appliance, disk: DiskRecord, point: PointInfo, path: string, options: RestoreOptions = {}): Promise<LiveRestore> {
  const t = await inspectTarget(app.dir, disk, path);
  if (t.problems.length) throw new ChronodiskError('refused', `cannot restore onto ${path}: ${t.problems[0]!.message}`);
  const isDevice = t.kind !== 'file' && t.kind !== 'new-file';
  const journal = new RestoreJournal(app.dir);
  const old = journal.forTarget(t.realPath);
  if (old) journal.remove(old); // the live copy writes everything again
  const target = await RestoreTarget.open(t.realPath, { device: isDevice, create: !isDevice });
  const image = app.image(disk, point.seq);
  const live = new LiveExport(image, target);
  const clock = new PhaseClock();
  const run = async () => {
    const job = journal.create({ kind: 'copy', disk: disk.name, diskId: disk.id, seq: point.seq, target: t.realPath, total: disk.size });
    const whole = [{ offset: 0, length: disk.size }];
    try {
      await target.setFileSize(disk.size, true);
      const streamed = await clock.time('write', () =>
        streamExtents(image, whole, target, {
          skipZeroChunks: !isDevice,
          limiter: options.limiter,
          onProgress: (done, total) => options.onProgress?.({ phase: 'write', done, total }),
          onDurable: (w) => journal.advance(job, w),
        }),
      );
      const verified = await clock.time('verify', () =>
        verifyExtents(image, whole, target, { chunkHashes: streamed.chunkHashes, onProgress: (done, total) => options.onProgress?.({ phase: 'verify', done, total }) }),
      );
      const landed = await live.switchToTarget();
      journal.remove(job);
      return {
        kind: 'copy' as const,
        disk: disk.name,
        seq: point.seq,
        target: path,
        bytesWritten: streamed.written + landed,
        bytesPlanned: disk.size,
        bytesVerified: verified.bytesVerified,
        verified: true,
        seconds: clock.seconds,
        resumed: false,
        sha256: verified.sha256,
        phases: clock.phases,
        bytesFromClients: live.bytesWrittenByClients,
      };
    } finally {
      live.closeOverlay();
    }
  };
  const done = run();
  done.catch(() => undefined); // the caller awaits it; a failure must not count as unhandled meanwhile
  return { export: live, done };
}
