import type { Verb } from './verb.js';
import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes, formatRate } from '../../shared/units.js';
import { scanPass } from '../engine/capture/scan-pass.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { printJson, printLine, progressLine } from './output.js';

export const captureVerb: Verb = {
  name: 'capture',
  summary: 'Run one scan pass over a protected disk: store the blocks that changed as a new point',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .option('--label <label>', 'a label for the point')
      .option('--no-freeze', 'do not freeze a mounted filesystem at the end of the pass')
      .option('--json', 'print JSON')
      .action(async (name: string, opts: ApplianceOptions & { label?: string; freeze: boolean; json?: boolean }) => {
        await withAppliance(opts, { writable: true, command: 'chronodisk capture' }, async (app) => {
          const disk = app.disk(name);
          const progress = progressLine();
          const r = await scanPass(app, disk, {
            label: opts.label,
            freeze: opts.freeze === false ? false : undefined,
            onProgress: (p) => progress.update(p),
          }).finally(() => progress.finish());
          if (opts.json) {
            printJson({ disk: disk.name, seq: r.point.seq, time: formatIsoMicros(r.point.timeUs), bytesRead: r.bytesRead, bytesStored: r.bytesStored, seconds: r.seconds });
          } else {
            printLine(
              `${disk.name}: point ${r.point.seq} at ${formatIsoMicros(r.point.timeUs)} — read ${formatBytes(r.bytesRead)} (${formatRate(r.bytesRead, r.seconds)}), ` +
                `${formatBytes(r.bytesChanged)} changed, ${formatBytes(r.bytesStored)} stored${r.frozen ? ', crash-consistent (frozen)' : ''}.`,
            );
          }
        });
      });
  },
};
