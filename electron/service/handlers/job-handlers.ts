import type { Handlers } from '../request-router.js';
import type { ServiceContext } from '../service-context.js';

/** The jobs list and cancelling one. */
export function jobHandlers(ctx: ServiceContext): Pick<Handlers, 'listJobs' | 'cancelJob'> {
  return {
    listJobs: () => ctx.jobs.list(),
    cancelJob: ({ id }) => {
      ctx.jobs.cancel(id);
      return {};
    },
  };
}
