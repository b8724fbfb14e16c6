import { formatBytes, formatCount } from '../../../shared/units.js';
import { ChronodiskError } from '../../engine/errors.js';
import { executeThinning, planDigest, planThinning, rewriteBytes } from '../../engine/retention/thin.js';
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
      ctx.jobs.start({
        kind: 'thin',
        title: 'Thin history by the retention policies',
        claims: ['appliance:segments'],
        run: (job) =>
          ctx.capture.betweenSteps(async () => {
            const started = performance.now();
            const plan = planThinning(ctx.app, nowUs, undefined, throughSeq);
            if (planDigest(plan) !== digest) {
              throw new ChronodiskError('refused', 'the history changed since the thinning was shown (points or bookmarks were removed or added, or a policy changed): nothing was thinned; look at it again and confirm');
            }
            if (plan.removedPoints === 0 && plan.droppedDisks.length === 0) {
              return { result: 'Nothing to thin', thin: { removedPoints: 0, bytesFreed: 0, bytesRewritten: 0, segmentsBefore: ctx.app.catalog.state.liveSegments().length, segmentsAfter: ctx.app.catalog.state.liveSegments().length, seconds: 0 } };
            }
            // Progress in the bytes the thinning rewrites (an estimate), so speed and ETA mean something.
            const total = rewriteBytes(ctx.app, plan);
            const r = await executeThinning(ctx.app, plan, (p) => job.progress('write', Math.round((total * p.done) / p.total), total));
            ctx.events.emit('disksChanged', {}); // the point counts changed
            return {
              result: `Thinned: ${formatCount(plan.removedPoints, 'point')} removed, ${formatBytes(r.bytesRewritten)} rewritten`,
              thin: { removedPoints: plan.removedPoints, bytesFreed: plan.bytesFreed, ...r, seconds: (performance.now() - started) / 1000 },
            };
          }),
      }),
  };
}
