/**
 * Engine records in the contract's shapes (shared/contract.ts): what every handler and
 * event sends. The router validates each response against the table again.
 */
import type { Bookmark, Disk, Point, Retention, Settings } from '../../shared/contract.js';
import type { ApplianceSettings } from '../engine/appliance-settings.js';
import type { RetentionPolicy } from '../engine/retention/policy.js';
import type { BookmarkRecord, DiskRecord } from '../engine/store/catalog-state.js';
import { flagNames, type PointInfo } from '../engine/timeline.js';

export function diskOf(d: DiskRecord): Disk {
  return { id: d.id, name: d.name, source: d.source, size: d.size, mode: d.mode, blockSize: d.blockSize, identity: d.identity, createdUs: d.createdUs };
}

export function pointOf(p: PointInfo): Point {
  return { seq: p.seq, disk: p.disk, timeUs: p.timeUs, flags: flagNames(p.flags), ...(p.label ? { label: p.label } : {}), bytes: p.bytes };
}

export function bookmarkOf(disk: DiskRecord, b: BookmarkRecord): Bookmark {
  return { disk: disk.name, seq: b.seq, label: b.label, timeUs: b.timeUs };
}

/**
 * The retention levels and their contract names. µs as the contract carries them:
 * "forever" is null for the weekly level, the largest safe integer below it.
 */
const LEVELS = [
  ['keepAll', 'keepAllUs'],
  ['hourly', 'hourlyUs'],
  ['daily', 'dailyUs'],
  ['weekly', 'weeklyUs'],
] as const;

export function retentionOf(p: RetentionPolicy): Retention {
  return retentionPartOf(p) as Retention;
}

/** The levels `p` has, as the contract carries them (a change that names some levels). */
export function retentionPartOf(p: Partial<RetentionPolicy>): Partial<Retention> {
  const out: Record<string, number | null> = {};
  for (const [level, wire] of LEVELS) {
    const us = p[level];
    if (us !== undefined) out[wire] = Number.isFinite(us) ? us : level === 'weekly' ? null : Number.MAX_SAFE_INTEGER;
  }
  return out as Partial<Retention>;
}

export function policyOfWire(r: Retention): RetentionPolicy {
  return policyPartOfWire(r) as RetentionPolicy;
}

export function policyPartOfWire(r: Partial<Retention>): Partial<RetentionPolicy> {
  const out: Partial<RetentionPolicy> = {};
  for (const [level, wire] of LEVELS) {
    const us = r[wire];
    if (us !== undefined) out[level] = us === null || us >= Number.MAX_SAFE_INTEGER ? Infinity : us;
  }
  return out;
}

export function settingsOf(s: ApplianceSettings): Settings {
  return { scanIntervalSec: s.scanIntervalSec, rateLimit: s.rateLimit, retention: retentionOf(s.retention), restoreFolders: s.restoreFolders };
}
