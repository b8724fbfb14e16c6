import type { Verb } from './verb.js';
import { parsePointSpec, POINT_SYNTAX } from '../../shared/point.js';
import { formatIsoMicros } from '../../shared/time.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { pointJson } from './json-shapes.js';
import { printJson, printLine } from './output.js';

export const resolveVerb: Verb = {
  name: 'point',
  summary: 'Resolve a point (--at) of a disk to its sequence number and time',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .requiredOption('--at <point>', POINT_SYNTAX)
      .option('--json', 'print JSON')
      .action(async (diskName: string, opts: ApplianceOptions & { at: string; json?: boolean }) => {
        const spec = parsePointSpec(opts.at); // a malformed point is a usage error before any I/O
        await withAppliance(opts, {}, (app) => {
          const p = app.timeline.resolve(app.disk(diskName), spec);
          if (opts.json) printJson(pointJson(p));
          else printLine(`${p.disk}: point ${p.seq} at ${formatIsoMicros(p.timeUs)}${p.label ? ` "${p.label}"` : ''}`);
        });
      });
  },
};
