import type { Verb } from './verb.js';
import { formatIsoMicros, parseIsoMicros } from '../../shared/time.js';
import { formatBytes, formatCount } from '../../shared/units.js';
import type { ThinOutcome } from '../../shared/contract.js';
import { ChronodiskError } from '../engine/errors.js';
import { executeThinning, planDigest, planThinning, type ThinPlan } from '../engine/retention/thin.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { confirmDestructive, printJson, printLine, progressLine } from './output.js';
import { jobViaRunningService, serviceIsWriter } from './running-service.js';

export const pruneVerb: Verb = {
  name: 'prune',
  summary: 'Thin history by each disk’s retention policy: show what goes, then do it',
  configure(cmd) {
    applianceOptions(cmd)
      .option('--dry-run', 'only show which points would go and the space that would come back')
      .option('--now <time>', 'judge ages as if it were this ISO time (to preview a policy)')
      .option('--yes', 'do not ask for confirmation')
      .option('--json', 'print JSON')
      .action(async (opts: ApplianceOptions & { dryRun?: boolean; now?: string; yes?: boolean; json?: boolean }) => {
        const nowUs = opts.now === undefined ? Date.now() * 1000 : parseIsoMicros(opts.now);
        if (nowUs === undefined) throw new ChronodiskError('usage', `--now ${opts.now} is not an ISO-8601 time`);
        // Beside a running service, the service thins (it is the writer): the plan is made
        // here as a reader, shown and confirmed, and the service carries out exactly that plan.
        const viaService = !opts.dryRun && serviceIsWriter(opts);
        let confirmed: ThinPlan | undefined;
        let summary: ReturnType<typeof summaryOf> | undefined;
        const say = (r: Omit<ThinOutcome, 'removedPoints' | 'bytesFreed'> & { removedPoints?: number }) => {
          if (opts.json) printJson({ ...summary, dryRun: false, done: true, ...r });
          else {
            printLine(`Thinned: ${formatCount(r.removedPoints ?? summary!.removedPoints, 'point')} removed, ${formatBytes(r.bytesRewritten)} rewritten in ${r.seconds.toFixed(1)} s.`);
            if (r.unfinished) printLine('The rest did not fit the free room now, or met a capture batch: run chronodisk prune again later.');
          }
        };
        await withAppliance(opts, opts.dryRun || viaService ? {} : { writable: true, command: 'chronodisk prune' }, async (app) => {
          const plan = planThinning(app, nowUs);
          summary = summaryOf(plan);
          const nothing = plan.removedPoints === 0 && plan.droppedDisks.length === 0;
          if (!opts.json) {
            for (const d of plan.disks) printLine(`${d.disk}: ${d.removed.length} of ${d.points} points go${d.removed.length ? ` (${d.removed.map((r) => r.seq).slice(0, 20).join(', ')}${d.removed.length > 20 ? ', …' : ''})` : ''}`);
            printLine(nothing ? 'Nothing to thin.' : `About ${formatBytes(plan.bytesFreed)} of overwritten data comes back.`);
          }
          if (opts.dryRun || nothing) {
            if (opts.json) printJson({ ...summary, dryRun: Boolean(opts.dryRun), done: false });
            return;
          }
          await confirmDestructive(`Remove ${formatCount(plan.removedPoints, 'point')} for good?`, opts.yes);
          if (viaService) {
            confirmed = plan;
            return;
          }
          const progress = progressLine();
          const started = performance.now();
          const r = await executeThinning(app, plan, (p) => progress.update({ phase: 'thin', done: p.done, total: p.total, unit: 'points' })).finally(() => progress.finish());
          say({ ...r, seconds: (performance.now() - started) / 1000, unfinished: false });
        });
        if (!confirmed) return;
        const plan = confirmed;
        const progress = progressLine();
        const thinned = await jobViaRunningService(
          opts,
          (service) => service.request('thinHistory', { nowUs: plan.nowUs, throughSeq: plan.throughSeq, digest: planDigest(plan), confirm: true }),
          progress,
          (job) => job.thin,
        ).finally(() => progress.finish());
        if (!thinned) throw new ChronodiskError('io', 'the Chronodisk service stopped before it thinned anything; run chronodisk prune again');
        say(thinned);
      });
  },
};

/** What prune --json says of a plan. */
function summaryOf(plan: ThinPlan) {
  return {
    removedPoints: plan.removedPoints,
    bytesFreed: plan.bytesFreed,
    disks: plan.disks.map((d) => ({ disk: d.disk, points: d.points, removed: d.removed.map((r) => ({ seq: r.seq, time: formatIsoMicros(r.timeUs) })) })),
  };
}
