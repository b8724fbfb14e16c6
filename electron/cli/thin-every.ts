import type { Command } from 'commander';
import { ChronodiskError } from '../engine/errors.js';
import { DEFAULT_THIN_EVERY_SEC } from '../engine/retention/thinning-schedule.js';
import { parseRetentionDuration } from '../engine/retention/policy.js';

/** `--thin-every DURATION`, for the verbs that are the appliance's writer (run, service, ui). */
export function thinEveryOption(cmd: Command): Command {
  return cmd.option('--thin-every <duration>', 'thin history by the retention policies this often (e.g. 1h, 1d; 0: only when the appliance runs low or on prune)', '1d');
}

/** The option's seconds; 0 for never. */
export function thinEverySec(text: string | undefined): number {
  if (text === undefined) return DEFAULT_THIN_EVERY_SEC;
  const us = parseRetentionDuration(text, '--thin-every');
  if (us === Infinity) return 0;
  if (us !== 0 && us < 1e6) throw new ChronodiskError('usage', `--thin-every ${text} is shorter than a second; give 1s or more, or 0 for never`);
  return Math.round(us / 1e6);
}
