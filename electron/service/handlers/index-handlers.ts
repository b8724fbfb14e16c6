import { formatCount } from '../../../shared/units.js';
import type { Handlers } from '../request-router.js';
import type { ServiceContext } from '../service-context.js';

/**
 * Rebuilding the index as a job: what `chronodisk rebuild-index` does, inside the running
 * service, between capture steps (the remedy an error names when the index disagrees with
 * the segments). The index is a cache; the segments and catalog are not touched.
 */
export function indexHandlers(ctx: ServiceContext): Pick<Handlers, 'rebuildIndex'> {
  return {
    rebuildIndex: () =>
      ctx.jobs.start({
        kind: 'rebuild-index',
        title: 'Rebuild the index',
        claims: ['appliance:index'],
        run: async (job) => {
          const started = performance.now();
          // Scanning the segments reads; applying the commits writes the time map.
          const onProgress = (step: 'scan' | 'apply', done: number, total: number) => job.progress(step === 'scan' ? 'read' : 'write', done, total);
          const r = await ctx.capture.betweenSteps(() => ctx.app.rebuildIndexInPlace(onProgress));
          const problems = r.problems.length ? `; ${formatCount(r.problems.length, 'damaged place')} skipped: verify the appliance` : '';
          return {
            result: `Index rebuilt from the segments: ${formatCount(r.commits, 'commit')}, ${formatCount(r.writes, 'write')}${problems}`,
            rebuild: { commits: r.commits, writes: r.writes, problems: r.problems.map(({ segment, at, reason }) => ({ segment, at, reason })), seconds: (performance.now() - started) / 1000 },
          };
        },
      }),
  };
}
