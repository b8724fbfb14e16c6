import type { Verb } from './verb.js';
import { parseSize, formatBytes } from '../../shared/units.js';
import { ChronodiskError } from '../engine/errors.js';
import { formatRetentionDuration, parseRetentionDuration, type RetentionPolicy } from '../engine/retention/policy.js';
import { policyOf } from '../engine/retention/policy-settings.js';
import { changeRetention } from '../engine/retention/retention-change.js';
import { policyOfWire, retentionPartOf } from '../service/wire-shapes.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { viaRunningService } from './running-service.js';
import { printJson, printLine } from './output.js';

interface RetentionOpts extends ApplianceOptions {
  keepAll?: string;
  hourly?: string;
  daily?: string;
  weekly?: string;
  minFree?: string;
  json?: boolean;
}

export const retentionVerb: Verb = {
  name: 'retention',
  summary: "Show or set a disk's retention policy (and the appliance's free-space floor)",
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .option('--keep-all <duration>', 'keep every point this long (e.g. 24h; 0 for none)')
      .option('--hourly <duration>', 'then one point per hour up to this age (e.g. 30d)')
      .option('--daily <duration>', 'then one point per day up to this age (e.g. 1y)')
      .option('--weekly <duration>', 'then one point per week up to this age (inf: forever)')
      .option('--min-free <size>', 'thin early, then pause capture, when the appliance has less free space than this')
      .option('--json', 'print JSON')
      .action(async (diskName: string, opts: RetentionOpts) => {
        const flag = { keepAll: '--keep-all', hourly: '--hourly', daily: '--daily', weekly: '--weekly' } as const;
        const given = (['keepAll', 'hourly', 'daily', 'weekly'] as const).filter((k) => opts[k] !== undefined);
        const policy: Partial<RetentionPolicy> = Object.fromEntries(given.map((k) => [k, parseRetentionDuration(opts[k]!, flag[k])]));
        const minFreeBytes = opts.minFree === undefined ? undefined : parseSize(opts.minFree);
        if (opts.minFree !== undefined && minFreeBytes === undefined) throw new ChronodiskError('usage', `--min-free ${opts.minFree} is not a size (e.g. 2G)`);
        const change = given.length > 0 || minFreeBytes !== undefined;
        const say = (disk: string, now: RetentionPolicy, floor: number | undefined) => {
          const shown = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, formatRetentionDuration(v)]));
          if (opts.json) return printJson({ disk, ...shown, minFreeBytes: floor ?? null });
          printLine(`${disk}: ${describePolicy(now)}; bookmarks kept until removed.`);
          if (floor !== undefined) printLine(`Thinning starts early below ${formatBytes(floor)} free on the appliance.`);
        };
        // A change beside a running service (the appliance's writer) is made by the service.
        const served = change ? await viaRunningService(opts, (service) => service.request('setDiskRetention', { disk: diskName, retention: retentionPartOf(policy), minFreeBytes })) : undefined;
        if (served) return say(served.disk, policyOfWire(served.retention), served.minFreeBytes);
        await withAppliance(opts, change ? { writable: true, command: 'chronodisk retention' } : {}, (app) => {
          const disk = app.disk(diskName);
          if (!change) return say(disk.name, policyOf(app, disk), app.setting<number>('minFreeBytes'));
          const now = changeRetention(app, disk, { policy, minFreeBytes });
          say(disk.name, now.policy, now.minFreeBytes);
        });
      });
  },
};

/** "every point for 1d, hourly up to 30d, daily up to 1y, weekly forever"; tiers of 0 left out. */
function describePolicy(p: RetentionPolicy): string {
  const tiers = ([['every point', p.keepAll], ['hourly', p.hourly], ['daily', p.daily], ['weekly', p.weekly]] as const)
    .filter(([, us]) => us !== 0)
    .map(([what, us]) => (us === Infinity ? `${what} forever` : `${what} ${what === 'every point' ? 'for' : 'up to'} ${formatRetentionDuration(us)}`));
  return tiers.length ? tiers.join(', ') : 'only the latest point';
}
