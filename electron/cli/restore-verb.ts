import type { Verb } from './verb.js';
import type { RestoreOutcome } from '../../shared/contract.js';
import { parsePointSpec, POINT_SYNTAX } from '../../shared/point.js';
import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes, formatRate, parseSize } from '../../shared/units.js';
import type { Appliance } from '../engine/appliance.js';
import { RateLimiter } from '../engine/devices/io-priority.js';
import { ChronodiskError } from '../engine/errors.js';
import { copyToTarget } from '../engine/restore/copy-to-target.js';
import { probeRollbackDisk, rollbackInPlace } from '../engine/restore/rollback.js';
import type { RestoreResult } from '../engine/restore/restore-result.js';
import { RestoreJournal } from '../engine/restore/restore-journal.js';
import type { DiskRecord } from '../engine/store/catalog-state.js';
import type { PointInfo } from '../engine/timeline.js';
import { applianceDir, applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { confirmDestructive, printJson, printLine, progressLine } from './output.js';
import { runLiveRestore } from './live-restore-run.js';
import { jobViaRunningService, viaRunningService } from './running-service.js';
import { checkedTarget, precheckTarget, type TargetPromptOptions } from './restore-target-prompt.js';

interface RestoreOpts extends ApplianceOptions, TargetPromptOptions {
  at: string;
  to?: string;
  rateLimit?: string;
  live?: boolean;
  socket?: string;
}

export const restoreVerb: Verb = {
  name: 'restore',
  summary: 'Roll a protected disk back to a point in place, or restore a point onto another disk or image file (--to)',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .requiredOption('--at <point>', POINT_SYNTAX)
      .option('--to <target>', 'restore onto this disk or image file instead of rolling the protected disk back')
      .option('--yes', 'do not ask for confirmation (for scripts)')
      .option('--rate-limit <size>', 'write at most this many bytes per second (e.g. 50M)')
      .option('--live', 'with --to: serve the point over NBD at once (writes kept) while the copy runs')
      .option('--socket <path>', 'with --live: the unix socket to serve on (default: in the appliance directory)')
      .option('--json', 'print a JSON summary')
      .action(async (diskName: string, opts: RestoreOpts) => {
        const spec = parsePointSpec(opts.at);
        let limiter: RateLimiter | undefined;
        if (opts.rateLimit !== undefined) {
          const rate = parseSize(opts.rateLimit);
          if (rate === undefined) throw new ChronodiskError('usage', `--rate-limit ${opts.rateLimit} is not a size (e.g. 50M)`);
          limiter = new RateLimiter(rate, { burstBytes: Math.min(rate, 4 * 1024 * 1024) });
        }
        if (opts.live && !opts.to) throw new ChronodiskError('usage', '--live needs --to TARGET: a live restore serves the point while it copies onto another disk');
        const writable = !opts.to;
        if (opts.to) await precheckTarget(applianceDir(opts), opts.to);
        else {
          const done = await rollbackByService(diskName, opts);
          if (done) return report(done, opts.json);
        }
        await withAppliance(opts, { writable, command: 'chronodisk restore' }, async (app) => {
          const disk = app.disk(diskName);
          const point = app.timeline.resolve(disk, spec);
          if (opts.to && opts.live) return runLiveRestore(app, disk, point, { ...opts, to: opts.to }, limiter);
          const result = opts.to ? await copy(app, disk, point, opts.to, opts, limiter) : await rollback(app, disk, point, opts, limiter);
          report(result, opts.json);
        });
      });
  },
};

/** A progress line per phase, so speed and ETA are of the phase shown. */
function phasedProgress() {
  let phase = '';
  let line = progressLine();
  return {
    update(p: { phase: string; done: number; total: number }) {
      if (p.phase !== phase) {
        if (phase) line.finish();
        phase = p.phase;
        line = progressLine();
      }
      line.update(p);
    },
    finish: () => line.finish(),
  };
}

async function rollback(app: Appliance, disk: DiskRecord, point: PointInfo, opts: RestoreOpts, limiter?: RateLimiter): Promise<RestoreResult> {
  await probeRollbackDisk(app, disk);
  const pending = new RestoreJournal(app.dir).list().find((j) => j.kind === 'rollback' && j.diskId === disk.id);
  const what = pending ? ` (finishing the interrupted restore ${pending.id})` : '';
  await confirmDestructive(`Roll ${disk.name} (${disk.source}) back to point ${point.seq} of ${formatIsoMicros(point.timeUs)}${what}?`, opts.yes);
  const progress = phasedProgress();
  try {
    return await rollbackInPlace(app, disk, point, { limiter, onProgress: (p) => progress.update(p) });
  } finally {
    progress.finish();
  }
}

/**
 * A rollback beside a running service, which is the appliance's writer: the service does
 * it (holding the disk's capture meanwhile, as for the window), and this asks the person,
 * then shows the job's progress. Undefined when no service runs.
 */
async function rollbackByService(diskName: string, opts: RestoreOpts): Promise<RestoreOutcome | undefined> {
  const found = await viaRunningService(opts, async (service) => ({
    point: await service.request('resolvePoint', { disk: diskName, at: opts.at }),
    disk: (await service.request('listDisks', {})).find((d) => d.name === diskName),
  }));
  if (!found) return undefined;
  if (opts.rateLimit !== undefined) throw new ChronodiskError('usage', '--rate-limit applies to a restore run here; the running Chronodisk service restores at full speed (stop it to limit the rate)');
  const { point, disk } = found;
  await confirmDestructive(`Roll ${diskName}${disk ? ` (${disk.source})` : ''} back to point ${point.seq} of ${formatIsoMicros(point.timeUs)}?`, opts.yes);
  const progress = phasedProgress();
  return jobViaRunningService(
    opts,
    (service) => service.request('restoreDisk', { disk: diskName, at: String(point.seq), confirm: true }),
    progress,
    (job) => job.restore,
  ).finally(() => progress.finish());
}

async function copy(app: Appliance, disk: DiskRecord, point: PointInfo, to: string, opts: RestoreOpts, limiter?: RateLimiter): Promise<RestoreResult> {
  await checkedTarget(app, disk, point, to, opts);
  const progress = phasedProgress();
  try {
    return await copyToTarget(app, disk, point, to, { limiter, onProgress: (p) => progress.update(p) });
  } finally {
    progress.finish();
  }
}

function report(r: RestoreResult | RestoreOutcome, json: boolean | undefined): void {
  if (json) {
    printJson({
      disk: r.disk,
      seq: r.seq,
      target: r.target,
      kind: r.kind,
      bytesWritten: r.bytesWritten,
      bytesPlanned: r.bytesPlanned,
      bytesVerified: r.bytesVerified,
      seconds: r.seconds,
      verified: r.verified,
      resumed: r.resumed,
      ...(r.restoreSeq !== undefined ? { restoreSeq: r.restoreSeq } : {}),
      ...(r.beforeRestore ? { beforeRestore: r.beforeRestore } : {}),
      ...(r.sha256 ? { sha256: r.sha256 } : {}),
      phases: r.phases,
    });
    return;
  }
  const rate = formatRate(r.bytesWritten, (r.phases.write ?? 0) || r.seconds);
  if (r.kind === 'rollback') {
    if (r.restoreSeq === undefined) return printLine(`${r.disk} already equals point ${r.seq}: nothing was written since.`);
    printLine(
      `Rolled ${r.disk} back to point ${r.seq}${r.resumed ? ' (finishing an interrupted restore)' : ''}: wrote ${formatBytes(r.bytesWritten)} (${rate}), ` +
        `verified ${formatBytes(r.bytesVerified)}, in ${r.seconds.toFixed(1)} s. The timeline records it as point ${r.restoreSeq}; ` +
        `undo with --at @${r.beforeRestore!.label}.`,
    );
  } else {
    printLine(
      `Restored ${r.disk} at point ${r.seq} onto ${r.target}${r.resumed ? ' (finishing an interrupted restore)' : ''}: wrote ${formatBytes(r.bytesWritten)} (${rate}), ` +
        `verified ${formatBytes(r.bytesVerified)} (sha256 ${r.sha256}), in ${r.seconds.toFixed(1)} s.`,
    );
  }
}
