import type { Job, ThinOutcome } from '../../../shared/contract.js';
import { formatBytes, formatCount } from '../../../shared/units.js';
import { ChronodiskError, isChronodiskError } from '../../engine/errors.js';
import { planDigest, planThinning } from '../../engine/retention/thin.js';
import { thinInParts } from '../../engine/retention/thinning-schedule.js';
import type { JobContext } from '../job-runner.js';
import type { Handlers } from '../request-router.js';
import type { ServiceContext } from '../service-context.js';

/**
 * Thinning by the retention policies as a job: what `chronodisk prune` does, inside the
 * running service, between capture steps. Only the plan the person saw goes: the service
 * makes it again (as of the same time and newest point) and refuses if it differs.
 */
export function thinHandlers(ctx: ServiceContext): Pick<Handlers, 'thinHistory'> {
  return {
    thinHistory: ({ nowUs, throughSeq, digest }) =>
      startThinJob(ctx, 'Thin history by the retention policies', async (job) => {
        const plan = planThinning(ctx.app, nowUs, undefined, throughSeq);
        if (planDigest(plan) !== digest) {
          throw new ChronodiskError('refused', 'the history changed since the thinning was shown (points or bookmarks were removed or added, or a policy changed): nothing was thinned; look at it again and confirm');
        }
        // In short parts, so a split disk's writes flow between them; progress in the bytes rewritten.
        return thinInParts(ctx.app, plan, { onProgress: (done, total) => job.progress('write', done, total) });
      }),
  };
}

/**
 * A scheduled round of thinning by the policies (see ThinningSchedule), as a job in the
 * jobs list when anything is due; skipped while capture is paused or another thinning
 * runs. Resolves once the job has ended.
 */
export async function scheduledThinning(ctx: ServiceContext): Promise<void> {
  if (ctx.capture.paused !== undefined) return;
  // One plan, carried out by the job: thinInParts reads the index afresh part by part, so
  // capture going on while the job waits for its turn changes nothing it relies on.
  const plan = planThinning(ctx.app);
  if (plan.removedPoints === 0 && plan.droppedDisks.length === 0) return;
  let job: Job;
  try {
    job = startThinJob(ctx, 'Thin history by the retention policies (scheduled)', (j) => thinInParts(ctx.app, plan, { onProgress: (done, total) => j.progress('write', done, total) }));
  } catch (e) {
    if (isChronodiskError(e, 'busy')) return; // a prune runs: that is this round
    throw e;
  }
  await ctx.jobs.finished(job.id);
}

type Thinned = Pick<ThinOutcome, 'removedPoints' | 'bytesFreed' | 'bytesRewritten' | 'unfinished'>;

/** A 'thin' job: `work` runs between capture steps; what it did becomes the job's `thin` and result line. */
function startThinJob(ctx: ServiceContext, title: string, work: (job: JobContext) => Promise<Thinned>): Job {
  return ctx.jobs.start({
    kind: 'thin',
    title,
    claims: ['appliance:segments'],
    run: (job) =>
      ctx.capture.betweenSteps(async () => {
        const started = performance.now();
        const segmentsBefore = ctx.app.catalog.state.liveSegments().length;
        const { removedPoints, bytesFreed, bytesRewritten, unfinished } = await work(job);
        const nothing = removedPoints === 0 && bytesRewritten === 0;
        if (!nothing) ctx.events.emit('disksChanged', {}); // the point counts changed
        const rest = unfinished ? '; the rest did not fit the free room now, or met a capture batch: it goes at the next round (or prune again)' : '';
        return {
          result: `${nothing ? 'Nothing thinned' : `Thinned: ${formatCount(removedPoints, 'point')} removed, ${formatBytes(bytesRewritten)} rewritten`}${rest}`,
          thin: { removedPoints, bytesFreed, bytesRewritten, segmentsBefore, segmentsAfter: ctx.app.catalog.state.liveSegments().length, seconds: (performance.now() - started) / 1000, unfinished },
        };
      }),
  });
}
