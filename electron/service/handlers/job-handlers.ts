import { ChronodiskError } from '../../engine/errors.js';
import { interruptedJobs, isInterruptedId } from '../interrupted-restores.js';
import type { Handlers } from '../request-router.js';
import type { ServiceContext } from '../service-context.js';

/** The jobs list (this run's jobs and the interrupted restores on the appliance) and cancelling one. */
export function jobHandlers(ctx: ServiceContext): Pick<Handlers, 'listJobs' | 'cancelJob'> {
  return {
    listJobs: () => [...ctx.jobs.list(), ...interruptedJobs(ctx)],
    cancelJob: ({ id }) => {
      if (isInterruptedId(id)) {
        throw new ChronodiskError('refused', `${id} is an interrupted restore, not running: resume it to finish, or forget it with chronodisk jobs --discard ${id.replace(/^interrupted-/, '')}`);
      }
      ctx.jobs.cancel(id);
      return {};
    },
  };
}
