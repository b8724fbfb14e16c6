import type { Verb } from './verb.js';
import type { ScanOutcome } from '../../shared/contract.js';
import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes, formatRate } from '../../shared/units.js';
import { scanPass } from '../engine/capture/scan-pass.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { printJson, printLine, progressLine } from './output.js';
import { jobViaRunningService } from './running-service.js';

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
        const freeze = opts.freeze === false ? false : undefined;
        // What a scan made, from the service (ScanOutcome) or from scanPass here.
        const say = (disk: string, r: Omit<ScanOutcome, 'point'> & { point: { seq: number; timeUs: number } }) => {
          if (opts.json) {
            printJson({ disk, seq: r.point.seq, time: formatIsoMicros(r.point.timeUs), bytesRead: r.bytesRead, bytesStored: r.bytesStored, seconds: r.seconds });
          } else {
            printLine(
              `${disk}: point ${r.point.seq} at ${formatIsoMicros(r.point.timeUs)} — read ${formatBytes(r.bytesRead)} (${formatRate(r.bytesRead, r.seconds)}), ` +
                `${formatBytes(r.bytesChanged)} changed, ${formatBytes(r.bytesStored)} stored${r.frozen ? ', crash-consistent (frozen)' : ''}.`,
            );
          }
        };
        const progress = progressLine();
        // Beside a running service, the service scans (its job), and this shows the job's progress.
        const scan = await jobViaRunningService(
          opts,
          (service) => service.request('captureNow', { disk: name, label: opts.label, freeze }),
          progress,
          (job) => job.scan,
        ).finally(() => progress.finish());
        if (scan) return say(scan.point.disk, scan);
        await withAppliance(opts, { writable: true, command: 'chronodisk capture' }, async (app) => {
          const disk = app.disk(name);
          const r = await scanPass(app, disk, { label: opts.label, freeze, onProgress: (p) => progress.update(p) }).finally(() => progress.finish());
          say(disk.name, r);
        });
      });
  },
};
