import type { Appliance } from '../appliance.js';
import type { DiskRecord } from '../store/catalog-state.js';
import { checkPolicy, defaultPolicy, policyFromJson, policyToJson, type RetentionPolicy } from './policy.js';

/**
 * Where retention policies live in the catalog: one appliance-wide default (`retention`,
 * what the service's settings show) and an optional override per disk (`retention:<id>`,
 * what `chronodisk retention DISK` sets).
 */

/** The appliance's default policy: the `retention` setting, else the built-in one. */
export function defaultPolicyOf(app: Appliance): RetentionPolicy {
  const v = app.setting('retention');
  return v === undefined ? defaultPolicy : policyFromJson(v);
}

/** The policy that thins a disk: its own, else the appliance's default. */
export function policyOf(app: Appliance, disk: DiskRecord): RetentionPolicy {
  const own = app.setting(`retention:${disk.id}`);
  return own === undefined ? defaultPolicyOf(app) : policyFromJson(own);
}

export function setDefaultPolicy(app: Appliance, policy: RetentionPolicy): void {
  checkPolicy(policy);
  app.setSetting('retention', policyToJson(policy));
}

export function setDiskPolicy(app: Appliance, disk: DiskRecord, policy: RetentionPolicy): void {
  checkPolicy(policy);
  app.setSetting(`retention:${disk.id}`, policyToJson(policy));
}
