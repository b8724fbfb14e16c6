import { formatBytes, formatCount } from '../../../shared/units.js';
import { checkApplianceInTurns, describeProblem } from '../../engine/check.js';
import { ChronodiskError } from '../../engine/errors.js';
import type { Handlers } from '../request-router.js';
import type { ServiceContext } from '../service-context.js';

/** Damaged places named in the job's one-line error; `chronodisk check` lists every one. */
const NAMED = 3;

/**
 * Verifying the appliance as a job, beside capture (the check gives the event loop back
 * every few milliseconds): what `chronodisk check` does, with progress in the jobs list.
 */
export function checkHandlers(ctx: ServiceContext): Pick<Handlers, 'checkAppliance'> {
  return {
    checkAppliance: ({ readData }) =>
      ctx.jobs.start({
        kind: 'check',
        title: readData ? 'Verify the appliance (every checksum)' : 'Check the appliance\'s structure',
        claims: ['appliance:check'],
        run: async (job) => {
          const report = await checkApplianceInTurns(ctx.app, { readData, signal: job.signal, onProgress: (done, total) => job.progress('verify', done, total) });
          if (!report.ok) {
            const n = report.problems.length;
            const named = report.problems.slice(0, NAMED).map(describeProblem).join('; ');
            throw new ChronodiskError('damaged', `the appliance has ${n === 1 ? 'a damaged place' : `${n} damaged places`}: ${named}${n > NAMED ? `; and ${n - NAMED} more` : ''}`);
          }
          return `No damage found: ${formatCount(report.segments, 'segment')}, ${formatCount(report.commits, 'commit')}${readData ? `, ${formatBytes(report.bytesVerified)} verified` : ''}`;
        },
      }),
  };
}
