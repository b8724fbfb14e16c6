import { Option } from 'commander';
import type { Verb } from './verb.js';
import { parsePointSpec } from '../../shared/point.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { bookmarkJson } from './json-shapes.js';
import { printJson, printLine } from './output.js';
import { viaRunningService } from './running-service.js';

export const markVerb: Verb = {
  name: 'mark',
  summary: 'Bookmark a point of a disk with a label',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .argument('<label>', 'a free-text label, unique per disk')
      .addOption(new Option('--at <point>', 'the point to mark').default('now', 'now, the latest point'))
      .option('--json', 'print JSON')
      .action(async (diskName: string, label: string, opts: ApplianceOptions & { at: string; json?: boolean }) => {
        const spec = parsePointSpec(opts.at);
        const say = (disk: string, b: { seq: number; label: string; timeUs: number }) =>
          opts.json ? printJson(bookmarkJson(disk, b)) : printLine(`Marked point ${b.seq} of ${disk} as "${label}".`);
        const b = await viaRunningService(opts, (service) => service.request('addBookmark', { disk: diskName, at: opts.at, label }));
        if (b) return say(b.disk, b);
        await withAppliance(opts, { writable: true, command: 'chronodisk mark' }, (app) => {
          const disk = app.disk(diskName);
          say(disk.name, app.addBookmark(disk, app.timeline.resolve(disk, spec), label));
        });
      });
  },
};

export const unmarkVerb: Verb = {
  name: 'unmark',
  summary: 'Remove a bookmark (the point itself stays)',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .argument('<label>', 'the bookmark label')
      .option('--json', 'print JSON')
      .action(async (diskName: string, label: string, opts: ApplianceOptions & { json?: boolean }) => {
        const say = (disk: string) => (opts.json ? printJson({ disk, label, removed: true }) : printLine(`Removed bookmark "${label}" of ${disk}.`));
        if (await viaRunningService(opts, (service) => service.request('removeBookmark', { disk: diskName, label }))) return say(diskName);
        await withAppliance(opts, { writable: true, command: 'chronodisk unmark' }, (app) => {
          const disk = app.disk(diskName);
          app.removeBookmark(disk, label);
          say(disk.name);
        });
      });
  },
};
