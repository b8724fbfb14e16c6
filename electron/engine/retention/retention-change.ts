import type { Appliance } from '../appliance.js';
import type { DiskRecord } from '../store/catalog-state.js';
import { checkPolicy, type RetentionPolicy } from './policy.js';
import { policyOf, setDiskPolicy } from './policy-settings.js';
import { setMinFree } from './space-guard.js';

export interface RetentionChange {
  /** The tiers to set; those left out stay as the disk's policy has them. */
  policy?: Partial<RetentionPolicy>;
  /** The appliance's free-space floor (thin early, then pause capture, below it). */
  minFreeBytes?: number;
}

/**
 * Sets a disk's own retention and the appliance's free-space floor (`chronodisk
 * retention`, the service's setDiskRetention). Everything is checked before anything is
 * written: a refused floor leaves the policy as it was. Returns both as they now are.
 */
export function changeRetention(app: Appliance, disk: DiskRecord, change: RetentionChange): { policy: RetentionPolicy; minFreeBytes?: number } {
  const given = Object.entries(change.policy ?? {}).filter(([, v]) => v !== undefined);
  const policy: RetentionPolicy = { ...policyOf(app, disk), ...Object.fromEntries(given) };
  if (given.length) checkPolicy(policy);
  if (change.minFreeBytes !== undefined) setMinFree(app, change.minFreeBytes);
  if (given.length) setDiskPolicy(app, disk, policy);
  const floor = app.setting<number>('minFreeBytes');
  return { policy, ...(floor !== undefined ? { minFreeBytes: floor } : {}) };
}
