import type { Verb } from './verb.js';
import { formatBytes, formatCount } from '../../shared/units.js';
import { checkAppliance, describeProblem } from '../engine/check.js';
import { ChronodiskError } from '../engine/errors.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { printJson, printLine, progressLine } from './output.js';

export const checkVerb: Verb = {
  name: 'check',
  summary: 'Verify the appliance (structure; with --read-data, every checksum); exit 1 on damage',
  configure(cmd) {
    applianceOptions(cmd)
      .option('--read-data', 'read and verify every record payload')
      .option('--json', 'print JSON')
      .action(async (opts: ApplianceOptions & { readData?: boolean; json?: boolean }) => {
        const report = await withAppliance(opts, {}, (app) => {
          const progress = progressLine();
          try {
            return checkAppliance(app, { readData: Boolean(opts.readData), onProgress: (done, total) => progress.update({ phase: 'check', done, total }) });
          } finally {
            progress.finish();
          }
        });
        if (opts.json) printJson(report);
        else {
          for (const n of report.notes) printLine(`note: ${n}`);
          for (const p of report.problems) printLine(`damaged: ${describeProblem(p)}`);
          printLine(
            `${formatCount(report.segments, 'segment')}, ${formatCount(report.records, 'record')}, ${formatCount(report.commits, 'commit')}` +
              (report.readData ? `, ${formatBytes(report.bytesVerified)} verified` : '') +
              (report.ok ? ': no damage found.' : `: ${formatCount(report.problems.length, 'damaged place')}.`),
          );
        }
        if (!report.ok) throw new ChronodiskError('damaged', `the appliance has ${formatCount(report.problems.length, 'damaged place')} (listed above)`);
      });
  },
};
