import type { Verb } from './verb.js';
import { formatBytes } from '../../shared/units.js';
import { formatIsoMicros } from '../../shared/time.js';
import { applianceOptions, suggestedCommand, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { diskJson } from './json-shapes.js';
import { printJson, printLine, printTable } from './output.js';

export const disksVerb: Verb = {
  name: 'disks',
  summary: 'List the disks the appliance protects, with their latest point',
  configure(cmd) {
    applianceOptions(cmd)
      .option('--json', 'print JSON')
      .action(async (opts: ApplianceOptions & { json?: boolean }) => {
        await withAppliance(opts, {}, (app) => {
          const rows = app.disks().map((d) => ({ disk: d, latest: app.timeline.latest(d), points: app.timeline.count(d) }));
          if (opts.json) {
            printJson(rows.map((r) => ({ ...diskJson(r.disk), points: r.points, latestSeq: r.latest?.seq, latestTime: r.latest && formatIsoMicros(r.latest.timeUs) })));
            return;
          }
          if (rows.length === 0) return printLine(`No disks yet: protect one with ${suggestedCommand(opts, 'protect SOURCE')}.`);
          printTable([
            ['NAME', 'SIZE', 'MODE', 'POINTS', 'LATEST', 'SOURCE'],
            ...rows.map((r) => [r.disk.name, formatBytes(r.disk.size), r.disk.mode, String(r.points), r.latest ? formatIsoMicros(r.latest.timeUs) : '–', r.disk.source]),
          ]);
        });
      });
  },
};
