import type { Job } from '../../shared/contract.js';
import { formatBytes } from '../../shared/units.js';
import { ChronodiskError } from '../engine/errors.js';
import { RestoreJournal, type RestoreJob } from '../engine/restore/restore-journal.js';
import type { ServiceContext } from './service-context.js';

/**
 * Disk restores that a crash, a stop or a cancel left unfinished: their journals stay in
 * the appliance (engine/restore/restore-journal.ts) and their targets are partly written.
 * They are listed beside the running jobs in phase 'interrupted', under an id of their
 * own, so the window can show them after any restart; resuming one restores the same
 * point onto the same target again, which the engine finishes from its journal.
 */
const PREFIX = 'interrupted-';

export function isInterruptedId(id: string): boolean {
  return id.startsWith(PREFIX);
}

/** The interrupted restores no running job of this service is writing now (restore jobs claim their target device). */
export function interruptedJobs(ctx: ServiceContext): Job[] {
  return new RestoreJournal(ctx.app.dir)
    .list()
    .filter((r) => !beingWritten(ctx, r))
    .map(asJob);
}

/**
 * The journal behind an interrupted job's id, or a one-line not-found; refused (busy) while
 * a job of ours writes its target again, as it is then no longer interrupted.
 */
export function interruptedRestore(ctx: ServiceContext, id: string): RestoreJob {
  const r = isInterruptedId(id) ? new RestoreJournal(ctx.app.dir).get(id.slice(PREFIX.length)) : undefined;
  if (!r) throw new ChronodiskError('not-found', `no interrupted restore ${id}; list them with listJobs`);
  if (beingWritten(ctx, r)) throw new ChronodiskError('busy', `a restore is writing ${r.target} now; wait for it or cancel it`);
  return r;
}

/** Restore jobs claim their target device while they run. */
function beingWritten(ctx: ServiceContext, r: RestoreJob): boolean {
  return ctx.jobs.holds(`device:${r.target}`);
}

function asJob(r: RestoreJob): Job {
  const title = r.kind === 'rollback' ? `Roll ${r.disk} back to point ${r.seq}` : `Restore ${r.disk} at point ${r.seq} onto ${r.target}`;
  return {
    id: `${PREFIX}${r.id}`,
    kind: 'restore-disk',
    title,
    disk: r.disk,
    phase: 'interrupted',
    bytesDone: Math.min(r.watermark, r.total),
    bytesTotal: r.total,
    bytesPerSecond: 0,
    startedUs: r.startedUs,
    finishedUs: r.updatedUs,
    result: `Interrupted with ${formatBytes(r.watermark)} of ${formatBytes(r.total)} written: ${r.target} is partly written until the restore is resumed`,
  };
}
