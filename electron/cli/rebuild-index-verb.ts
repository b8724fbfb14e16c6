import type { Verb } from './verb.js';
import type { RebuildOutcome } from '../../shared/contract.js';
import { Appliance } from '../engine/appliance.js';
import { applianceDir, applianceOptions, passphraseFor, type ApplianceOptions } from './appliance-access.js';
import { readHeader } from '../engine/format/appliance-header.js';
import { printJson, printLine, progressLine } from './output.js';
import { formatCount } from '../../shared/units.js';
import { jobViaRunningService } from './running-service.js';

export const rebuildIndexVerb: Verb = {
  name: 'rebuild-index',
  summary: 'Delete the index and rebuild it from the segments and catalog',
  configure(cmd) {
    applianceOptions(cmd)
      .option('--json', 'print JSON')
      .action(async (opts: ApplianceOptions & { json?: boolean }) => {
        const say = (r: RebuildOutcome) => {
          if (opts.json) printJson(r);
          else {
            for (const p of r.problems) printLine(`damaged: segment ${p.segment} at byte ${p.at}: ${p.reason}`);
            printLine(`Rebuilt the index: ${formatCount(r.commits, 'point')}, ${formatCount(r.writes, 'write')}, in ${r.seconds.toFixed(1)} s.`);
          }
        };
        // A line per step (on a terminal): reading the segments, then indexing their points.
        let step = '';
        let line = progressLine();
        const onStep = (s: string, phase: string, done: number, total: number) => {
          if (s !== step) {
            line.finish();
            line = progressLine();
            step = s;
          }
          line.update({ phase, done, total });
        };
        // Beside a running service, the service rebuilds it between capture steps (its job).
        const progress = { update: (p: { phase: string; done: number; total: number }) => onStep(p.phase, p.phase === 'read' ? 'Reading the segments' : 'Indexing the points', p.done, p.total) };
        const rebuilt = await jobViaRunningService(opts, (service) => service.request('rebuildIndex', {}), progress, (job) => job.rebuild).finally(() => line.finish());
        if (rebuilt) return say(rebuilt);
        const dir = applianceDir(opts);
        const passphrase = readHeader(dir).encryption ? await passphraseFor(opts) : undefined;
        const started = performance.now();
        const onProgress = (s: 'scan' | 'apply', done: number, total: number) => onStep(s, s === 'scan' ? 'Reading the segments' : 'Indexing the points', done, total);
        const r = await Appliance.rebuildIndex(dir, { passphrase, onProgress }).finally(() => line.finish());
        say({ ...r, seconds: (performance.now() - started) / 1000 });
      });
  },
};
