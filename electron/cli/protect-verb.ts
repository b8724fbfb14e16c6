import type { Verb } from './verb.js';
import { formatBytes, parseSize } from '../../shared/units.js';
import { protectSource } from '../engine/capture/protect.js';
import { ChronodiskError } from '../engine/errors.js';
import { freeBytes } from '../engine/retention/space-guard.js';
import { shellWord } from '../../shared/shell-word.js';
import { applianceOptions, suggestedCommand, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { diskJson } from './json-shapes.js';
import { confirmDestructive, printJson, printLine } from './output.js';

const modes = ['scan', 'track', 'split'] as const;

export const protectVerb: Verb = {
  name: 'protect',
  summary: 'Register a disk, partition or image file for protection',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<source>', 'a block device, a partition, or a disk image file')
      .option('--name <name>', 'the disk name (default: the base name of the source)')
      .option('--mode <mode>', 'scan (any OS), track (Linux, live) or split (NBD, exact)', 'scan')
      .option('--block-size <size>', 'scan block size, a power of two from 4K to 1M', '64K')
      .option('--json', 'print JSON')
      .action(async (source: string, opts: ApplianceOptions & { name?: string; mode: string; blockSize: string; json?: boolean }) => {
        if (!(modes as readonly string[]).includes(opts.mode)) throw new ChronodiskError('usage', `--mode ${opts.mode} is not one of scan, track, split`);
        const blockSize = parseSize(opts.blockSize);
        if (blockSize === undefined) throw new ChronodiskError('usage', `--block-size ${opts.blockSize} is not a size (e.g. 64K)`);
        await withAppliance(opts, { writable: true, command: 'chronodisk protect' }, async (app) => {
          const d = await protectSource(app, source, { name: opts.name, mode: opts.mode as (typeof modes)[number], blockSize });
          if (opts.json) printJson(diskJson(d));
          else printLine(`Protecting ${d.source} as ${d.name} (${formatBytes(d.size)}, ${d.mode} mode). Capture it with ${suggestedCommand(opts, `capture ${shellWord(d.name)}`)}, or keep it captured with ${suggestedCommand(opts, 'run')}.`);
          // Zero blocks take no room and most data compresses, so this is no refusal; but a
          // person should hear before the first pass fills the drive.
          const free = freeBytes(app.dir);
          if (!opts.json && d.size > free) printLine(`Note: the appliance has ${formatBytes(free)} free; the first copy of ${d.name} may need up to ${formatBytes(d.size)} (less for empty or compressible space).`);
        });
      });
  },
};

export const unprotectVerb: Verb = {
  name: 'unprotect',
  summary: 'Stop protecting a disk (its history stays unless --delete-history)',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .option('--delete-history', 'also give up its history (space comes back at the next prune)')
      .option('--yes', 'do not ask for confirmation')
      .option('--json', 'print JSON')
      .action(async (name: string, opts: ApplianceOptions & { deleteHistory?: boolean; yes?: boolean; json?: boolean }) => {
        await withAppliance(opts, { writable: true, command: 'chronodisk unprotect' }, async (app) => {
          const d = app.disk(name);
          if (opts.deleteHistory) await confirmDestructive(`Delete the whole history of ${d.name}?`, opts.yes);
          app.removeDisk(d.name, Boolean(opts.deleteHistory));
          if (opts.json) printJson({ disk: d.name, historyDeleted: Boolean(opts.deleteHistory) });
          else printLine(`${d.name} is no longer protected${opts.deleteHistory ? '; its history is given up' : '; its history stays on the appliance'}.`);
        });
      });
  },
};
