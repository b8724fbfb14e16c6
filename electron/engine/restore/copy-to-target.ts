import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Appliance } from '../appliance.js';
import { applianceFacts } from '../capture/protect.js';
import { probeProtectedSource } from '../capture/source-check.js';
import { probeSource, type SourceInfo, type SourceKind } from '../devices/block-device.js';
import { mountsOf, systemDisks } from '../devices/mounts.js';
import { holdersOf, partitionsOf } from '../devices/sysfs-block.js';
import { checkRestoreTarget, factsOf, type DeviceFacts, type TargetProblem } from '../devices/target-rules.js';
import { ChronodiskError } from '../errors.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { PointInfo } from '../timeline.js';
import { streamExtents } from './extent-stream.js';
import { RestoreJournal } from './restore-journal.js';
import { PhaseClock, type RestoreOptions, type RestoreResult } from './restore-result.js';
import { RestoreTarget } from './restore-target.js';
import { verifyExtents } from './verify.js';

/** What the person is about to overwrite, and whether they may. */
export interface TargetInspection {
  /** As given. */
  path: string;
  realPath: string;
  /** `new-file`: an image file that does not exist yet. */
  kind: SourceKind | 'new-file';
  size: number;
  model?: string;
  backingFile?: string;
  partitions: Array<{ device: string; number: number; start: number; size: number; mountpoints: string[] }>;
  /** Empty when the target may receive the image. */
  problems: TargetProblem[];
}

/**
 * Facts and safety rules for a restore target: the system disk, the appliance's, too small,
 * mounted… Without `disk` (before the appliance is even opened) the rules that need the
 * image — its size, its source — are left out.
 */
export async function inspectTarget(applianceDir: string, disk: DiskRecord | undefined, path: string): Promise<TargetInspection> {
  const appliance = applianceFacts(applianceDir);
  const imageSize = disk?.size ?? 0;
  if (!existsSync(path)) {
    const realPath = resolve(path);
    if (!existsSync(dirname(realPath)) || !statSync(dirname(realPath)).isDirectory()) {
      throw new ChronodiskError('not-found', `${path} does not exist and its directory does not either; name a disk, or an image file in an existing directory`);
    }
    const facts: DeviceFacts = { path: realPath, kind: 'file', size: 0, readOnly: false, disks: [] };
    const problems = checkRestoreTarget({ target: facts, imageSize, systemDisks: [], appliance, mounts: [] });
    return { path, realPath, kind: 'new-file', size: 0, partitions: [], problems };
  }
  const info = await probeSource(path);
  const facts = factsOf(info);
  const mounts = info.kind === 'file' ? [] : mountsOf(info.realPath);
  const sourceDisks = disk ? await sourceDisksOf(disk) : {};
  const problems = checkRestoreTarget({
    target: facts,
    imageSize,
    systemDisks: systemDisks(),
    appliance,
    mounts,
    holders: info.name ? holdersOf(info.name) : [],
    sourceDisks: sourceDisks.disks,
  });
  if (disk && sourceDisks.realPath === info.realPath && !problems.some((p) => p.rule === 'source-disk')) {
    problems.push({ rule: 'source-disk', message: `${path} is the source ${disk.name} was captured from: roll it back in place (restore without --to)` });
  }
  const partitions =
    info.kind === 'disk' || info.kind === 'loop'
      ? partitionsOf(info.name!).map((p) => ({
          device: `/dev/${p.name}`,
          number: p.number,
          start: p.start,
          size: p.size,
          mountpoints: mounts.filter((m) => m.device === `/dev/${p.name}`).map((m) => m.mountPoint),
        }))
      : [];
  return {
    path,
    realPath: info.realPath,
    kind: info.kind,
    size: info.size,
    ...(info.identity.model ? { model: info.identity.model } : {}),
    ...(info.identity.backingFile !== undefined ? { backingFile: info.identity.backingFile } : {}),
    partitions,
    problems,
  };
}

/** The protected source's disks, when it is still the disk it was. */
async function sourceDisksOf(disk: DiskRecord): Promise<{ disks?: string[]; realPath?: string }> {
  let info: SourceInfo;
  try {
    info = await probeProtectedSource(disk);
  } catch {
    return {};
  }
  return { disks: info.kind === 'file' ? undefined : factsOf(info).disks, realPath: info.realPath };
}

/**
 * Restores a point onto another disk or an image file: the whole time image is streamed
 * (a disk gets its zeros too; an image file keeps holes), made durable, then read back and
 * compared. Progress is journalled, so an interrupted copy resumes where it was durable.
 */
export async function copyToTarget(app: Appliance, disk: DiskRecord, point: PointInfo, path: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const clock = new PhaseClock();
  const t = await inspectTarget(app.dir, disk, path);
  if (t.problems.length) throw new ChronodiskError('refused', `cannot restore onto ${path}: ${t.problems[0]!.message}`);
  const journal = new RestoreJournal(app.dir);
  let job = journal.forTarget(t.realPath);
  const resumed = job !== undefined && job.kind === 'copy' && job.diskId === disk.id && job.seq === point.seq;
  if (job && !resumed) {
    // An interrupted restore of something else onto this target: this one overwrites it all.
    journal.remove(job);
    job = undefined;
  }
  const j = job ?? journal.create({ kind: 'copy', disk: disk.name, diskId: disk.id, seq: point.seq, target: t.realPath, total: disk.size });
  const isDevice = t.kind !== 'file' && t.kind !== 'new-file';
  const target = await RestoreTarget.open(t.realPath, { device: isDevice, create: !isDevice });
  const image = app.image(disk, point.seq);
  const whole = [{ offset: 0, length: disk.size }];
  const progress = (phase: 'write' | 'verify') => (done: number, total: number) => options.onProgress?.({ phase, done, total });
  let written: number;
  let verified;
  try {
    await target.setFileSize(disk.size, !resumed);
    const startAt = resumed ? j.watermark : 0;
    const streamed = await clock.time('write', () =>
      streamExtents(image, whole, target, {
        startAt,
        skipZeroChunks: !isDevice,
        limiter: options.limiter,
        signal: options.signal,
        onProgress: progress('write'),
        onDurable: (w) => journal.advance(j, w),
      }),
    );
    written = streamed.written;
    verified = await clock.time('verify', () => verifyExtents(image, whole, target, { chunkHashes: streamed.chunkHashes, signal: options.signal, onProgress: progress('verify') })).catch((e: unknown) => {
      // What is there cannot be trusted: the next run starts over (a cancelled check proves nothing either way).
      if (!options.signal?.aborted) journal.remove(j);
      throw e;
    });
  } finally {
    await target.close();
  }
  journal.remove(j);
  return {
    kind: 'copy',
    disk: disk.name,
    seq: point.seq,
    target: path,
    bytesWritten: written,
    bytesPlanned: disk.size,
    bytesVerified: verified.bytesVerified,
    verified: true,
    seconds: clock.seconds,
    resumed,
    sha256: verified.sha256,
    phases: clock.phases,
  };
}
