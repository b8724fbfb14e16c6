import type { Verb } from './verb.js';
import { Appliance } from '../engine/appliance.js';
import { ChronodiskError, isChronodiskError } from '../engine/errors.js';
import { applianceDir, applianceOptions, passphraseFor, type ApplianceOptions } from './appliance-access.js';
import { readHeader } from '../engine/format/appliance-header.js';
import { printJson, printLine, progressLine } from './output.js';
import { formatCount } from '../../shared/units.js';

export const rebuildIndexVerb: Verb = {
  name: 'rebuild-index',
  summary: 'Delete the index and rebuild it from the segments and catalog',
  configure(cmd) {
    applianceOptions(cmd)
      .option('--json', 'print JSON')
      .action(async (opts: ApplianceOptions & { json?: boolean }) => {
        const dir = applianceDir(opts);
        const passphrase = readHeader(dir).encryption ? await passphraseFor(opts) : undefined;
        const started = performance.now();
        // A line per step (on a terminal): reading the segments, then indexing their points.
        let step = '';
        let line = progressLine();
        const onProgress = (s: 'scan' | 'apply', done: number, total: number) => {
          if (s !== step) {
            line.finish();
            line = progressLine();
            step = s;
          }
          line.update({ phase: s === 'scan' ? 'Reading the segments' : 'Indexing the points', done, total });
        };
        const r = await Appliance.rebuildIndex(dir, { passphrase, onProgress })
          .catch((e: unknown) => {
            // The service holds the lock while it captures: it can rebuild beside capture itself.
            if (isChronodiskError(e, 'locked')) throw new ChronodiskError('locked', `${e.message}; or, when that is the Chronodisk service, rebuild it there: Settings → Rebuild the index in the window`);
            throw e;
          })
          .finally(() => line.finish());
        const seconds = (performance.now() - started) / 1000;
        if (opts.json) printJson({ ...r, seconds });
        else {
          for (const p of r.problems) printLine(`damaged: segment ${p.segment} at byte ${p.at}: ${p.reason}`);
          printLine(`Rebuilt the index: ${formatCount(r.commits, 'point')}, ${formatCount(r.writes, 'write')}, in ${seconds.toFixed(1)} s.`);
        }
      });
  },
};
