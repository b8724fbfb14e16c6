import type { Verb } from './verb.js';
import { parsePointSpec } from '../../shared/point.js';
import { formatBytes, formatCount } from '../../shared/units.js';
import { parseDiskAddress } from '../engine/files/disk-address.js';
import { diffTrees } from '../engine/files/tree-diff.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { pointJson } from './json-shapes.js';
import { printJson, printLine, printTable } from './output.js';

export const diffVerb: Verb = {
  name: 'diff',
  summary: 'List the byte ranges of a disk written between two points (from the index alone)',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .argument('<pointA>', 'the earlier point')
      .argument('<pointB>', 'the later point')
      .option('--files', 'list the files added, removed and changed instead (DISK or DISK:N)')
      .option('--json', 'print JSON')
      .action(async (diskName: string, a: string, b: string, opts: ApplianceOptions & { json?: boolean; files?: boolean }) => {
        const specA = parsePointSpec(a);
        const specB = parsePointSpec(b);
        if (opts.files) {
          const address = parseDiskAddress(diskName);
          return withAppliance(opts, {}, async (app) => {
            const disk = app.disk(address.disk);
            const pa = app.timeline.resolve(disk, specA);
            const pb = app.timeline.resolve(disk, specB);
            const d = await diffTrees(app, address, pa.seq, pb.seq);
            if (opts.json) return printJson({ disk: diskName, from: pointJson(pa), to: pointJson(pb), ...d });
            for (const [mark, list] of [['+', d.added], ['-', d.removed], ['M', d.changed]] as const) {
              for (const f of list) printLine(`${mark} ${f.path}${f.type === 'dir' ? '/' : ''}${f.what && f.what !== 'content' ? ` (${f.what})` : ''}`);
            }
            printLine(`${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed between point ${pa.seq} and ${pb.seq}.`);
          });
        }
        await withAppliance(opts, {}, (app) => {
          const disk = app.disk(diskName);
          const pa = app.timeline.resolve(disk, specA);
          const pb = app.timeline.resolve(disk, specB);
          const extents = app.timeline.writtenBetween(disk, pa.seq, pb.seq);
          const bytes = extents.reduce((n, e) => n + e.length, 0);
          if (opts.json) {
            printJson({ disk: disk.name, from: pointJson(pa), to: pointJson(pb), bytes, extents });
            return;
          }
          printTable([['OFFSET', 'LENGTH'], ...extents.map((e) => [String(e.offset), String(e.length)])]);
          printLine(`${formatCount(extents.length, 'range')}, ${formatBytes(bytes)} written between point ${pa.seq} and ${pb.seq}.`);
        });
      });
  },
};
