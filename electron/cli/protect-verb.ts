import type { Verb } from './verb.js';
import { formatBytes, parseSize } from '../../shared/units.js';
import { protectSource } from '../engine/capture/protect.js';
import { probeSource } from '../engine/devices/block-device.js';
import { ChronodiskError } from '../engine/errors.js';
import { freeBytes } from '../engine/retention/space-guard.js';
import { shellWord } from '../../shared/shell-word.js';
import { applianceDir, applianceOptions, suggestedCommand, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { viaRunningService } from './running-service.js';
import { diskJson, type DiskLike } from './json-shapes.js';
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
        const mode = opts.mode as (typeof modes)[number];
        const blockSize = parseSize(opts.blockSize);
        if (blockSize === undefined) throw new ChronodiskError('usage', `--block-size ${opts.blockSize} is not a size (e.g. 64K)`);
        const say = (d: DiskLike, dir: string) => {
          if (opts.json) return printJson(diskJson(d));
          printLine(`Protecting ${d.source} as ${d.name} (${formatBytes(d.size)}, ${d.mode} mode). Capture it with ${suggestedCommand(opts, `capture ${shellWord(d.name)}`)}, or keep it captured with ${suggestedCommand(opts, 'run')}.`);
          // Zero blocks take no room and most data compresses, so this is no refusal; but a
          // person should hear before the first pass fills the drive.
          const free = freeBytes(dir);
          if (d.size > free) printLine(`Note: the appliance has ${formatBytes(free)} free; the first copy of ${d.name} may need up to ${formatBytes(d.size)} (less for empty or compressible space).`);
        };
        const served = await viaRunningService(opts, async (service) => {
          // The service (root, answering anyone in its group) protects only the drives it
          // offers the window: never a file, which would let its clients read any file.
          const info = await probeSource(source);
          if (info.kind === 'file') throw new ChronodiskError('refused', `${source} is a file; the running Chronodisk service (the appliance's writer) protects only drives and partitions: stop it to protect an image file`);
          return service.request('protectDisk', { device: info.realPath, name: opts.name, mode, blockSize });
        });
        if (served) return say(served, applianceDir(opts));
        await withAppliance(opts, { writable: true, command: 'chronodisk protect' }, async (app) => say(await protectSource(app, source, { name: opts.name, mode, blockSize }), app.dir));
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
        const deleteHistory = Boolean(opts.deleteHistory);
        const say = (disk: string) => {
          if (opts.json) printJson({ disk, historyDeleted: deleteHistory });
          else printLine(`${disk} is no longer protected${deleteHistory ? '; its history is given up' : '; its history stays on the appliance'}.`);
        };
        let confirmed = !deleteHistory;
        const confirm = async () => {
          if (!confirmed) await confirmDestructive(`Delete the whole history of ${name}?`, opts.yes);
          confirmed = true;
        };
        // Beside a running service: ask it whether the disk exists (its error is the one the
        // appliance gives), then the person, then the service, which stops capturing it first.
        if (await viaRunningService(opts, (service) => service.request('timeline', { disk: name, limit: 1 }))) {
          await confirm();
          if (await viaRunningService(opts, (service) => service.request('unprotectDisk', { disk: name, deleteHistory, confirm: true }))) return say(name);
        }
        await withAppliance(opts, { writable: true, command: 'chronodisk unprotect' }, async (app) => {
          const d = app.disk(name);
          await confirm();
          app.removeDisk(d.name, deleteHistory);
          say(d.name);
        });
      });
  },
};
