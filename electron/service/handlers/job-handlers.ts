import { ChronodiskError } from '../../engine/errors.js';
import { RestoreJournal } from '../../engine/restore/restore-journal.js';
import { interruptedJobs, interruptedRestore, isInterruptedId } from '../interrupted-restores.js';
import type { Handlers } from '../request-router.js';
import type { ServiceContext } from '../service-context.js';

/** The jobs list (this run's jobs and the interrupted restores on the appliance), cancelling one, and forgetting an interrupted one. */
export function jobHandlers(ctx: ServiceContext): Pick<Handlers, 'listJobs' | 'cancelJob' | 'discardJob'> {
  return {
    listJobs: () => [...ctx.jobs.list(), ...interruptedJobs(ctx)],
    cancelJob: ({ id }) => {
      if (isInterruptedId(id)) {
        throw new ChronodiskError('refused', `${id} is an interrupted restore, not running: resume it to finish it, or discard it`);
      }
      ctx.jobs.cancel(id);
      return {};
    },
    discardJob: ({ id }) => {
      new RestoreJournal(ctx.app.dir).remove(interruptedRestore(ctx, id));
      return {};
    },
  };
}
