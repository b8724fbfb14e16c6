import type { Verb } from './verb.js';
import { parseSize, formatBytes } from '../../shared/units.js';
import { ChronodiskError } from '../engine/errors.js';
import { checkPolicy, formatRetentionDuration, parseRetentionDuration, type RetentionPolicy } from '../engine/retention/policy.js';
import { policyOf, setDiskPolicy } from '../engine/retention/policy-settings.js';
import { setMinFree } from '../engine/retention/space-guard.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
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
        const given = (['keepAll', 'hourly', 'daily', 'weekly'] as const).filter((k) => opts[k] !== undefined);
        const minFree = opts.minFree === undefined ? undefined : parseSize(opts.minFree);
        if (opts.minFree !== undefined && minFree === undefined) throw new ChronodiskError('usage', `--min-free ${opts.minFree} is not a size (e.g. 2G)`);
        const change = given.length > 0 || minFree !== undefined;
        await withAppliance(opts, change ? { writable: true, command: 'chronodisk retention' } : {}, (app) => {
          const disk = app.disk(diskName);
          let policy: RetentionPolicy = policyOf(app, disk);
          if (given.length) {
            const flag = { keepAll: '--keep-all', hourly: '--hourly', daily: '--daily', weekly: '--weekly' } as const;
            policy = { ...policy, ...Object.fromEntries(given.map((k) => [k, parseRetentionDuration(opts[k]!, flag[k])])) };
            checkPolicy(policy);
          }
          // Everything checked before anything is written: a refused floor leaves the policy as it was.
          if (minFree !== undefined) setMinFree(app, minFree);
          if (given.length) setDiskPolicy(app, disk, policy);
          const floor = app.setting<number>('minFreeBytes');
          const shown = Object.fromEntries(Object.entries(policy).map(([k, v]) => [k, formatRetentionDuration(v)]));
          if (opts.json) printJson({ disk: disk.name, ...shown, minFreeBytes: floor ?? null });
          else {
            printLine(`${disk.name}: ${describePolicy(policy)}; bookmarks kept until removed.`);
            if (floor !== undefined) printLine(`Thinning starts early below ${formatBytes(floor)} free on the appliance.`);
          }
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
