import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import type { Appliance } from '../appliance.js';
import { applianceFacts } from '../capture/protect.js';
import { listDrives } from '../devices/drives.js';
import { mountsOf, systemDisks } from '../devices/mounts.js';
import { holdersOf } from '../devices/sysfs-block.js';
import { checkRestoreTarget, type DeviceFacts } from '../devices/target-rules.js';
import { ChronodiskError } from '../errors.js';
import type { DiskRecord } from '../store/catalog-state.js';
import { inspectTarget } from './copy-to-target.js';
import { rollbackProblems } from './rollback.js';

/** A device a disk can be restored onto, with every rule that refuses it now (balenaEtcher's list). */
export interface RestoreTargetChoice {
  device: string;
  description: string;
  size: number;
  /** The protected disk itself: a rollback of only what changed. */
  inPlace: boolean;
  problems: string[];
}

/**
 * Where a disk can be restored: first the protected disk itself (rolled back in place),
 * then every other drive — and its partitions, when a partition was protected — each
 * with all the rules that refuse it (system disk, the appliance's, too small, mounted,
 * in use, read-only), the same checks the restore itself makes again when it runs.
 */
export async function restoreTargetsFor(app: Appliance, disk: DiskRecord): Promise<RestoreTargetChoice[]> {
  const out: RestoreTargetChoice[] = [await inPlaceChoice(app, disk)];
  const own = realOrUndefined(disk.source);
  const withPartitions = disk.identity.partition !== undefined;
  for (const drive of await listDrives({ applianceDir: app.dir })) {
    const candidates: Candidate[] = [
      { device: drive.device, description: drive.description, size: drive.size, disk: drive.device, readOnly: drive.isReadOnly },
      ...(withPartitions
        ? drive.partitions.map((p) => ({ device: p.device, description: `partition ${p.number} of ${drive.description}`, size: p.size, disk: drive.device, readOnly: drive.isReadOnly }))
        : []),
    ];
    for (const c of candidates) {
      if (c.device === own) continue; // the in-place entry stands for it
      out.push({ device: c.device, description: c.description, size: c.size, inPlace: false, problems: await problemsOf(app, disk, c) });
    }
  }
  return out;
}

/**
 * The listed, usable target a request names: refuses a device the list does not offer,
 * or offers with a problem (its first problem, one line).
 */
export async function offeredTarget(app: Appliance, disk: DiskRecord, device: string): Promise<RestoreTargetChoice> {
  const t = (await restoreTargetsFor(app, disk)).find((c) => c.device === device);
  if (!t) throw new ChronodiskError('not-found', `${device} is not a restore target offered for ${disk.name}; pick one from its list of targets`);
  if (t.problems.length) throw new ChronodiskError('refused', `cannot restore ${disk.name} onto ${device}: ${t.problems[0]}`);
  return t;
}

async function inPlaceChoice(app: Appliance, disk: DiskRecord): Promise<RestoreTargetChoice> {
  const base = { device: disk.source, description: `${disk.name} itself (roll back only what changed)`, size: disk.size, inPlace: true };
  try {
    const { problems } = await rollbackProblems(app, disk);
    return { ...base, problems: problems.map((p) => p.message) };
  } catch (e) {
    return { ...base, problems: [e instanceof ChronodiskError ? e.message : `${disk.source} cannot be probed: ${(e as Error).message}`] };
  }
}

/** A drive or partition of the list, with the facts listDrives found (no open needed). */
interface Candidate {
  device: string;
  description: string;
  size: number;
  /** The whole disk it is on. */
  disk: string;
  readOnly: boolean;
}

async function problemsOf(app: Appliance, disk: DiskRecord, c: Candidate): Promise<string[]> {
  try {
    return (await inspectTarget(app.dir, disk, c.device)).problems.map((p) => p.message);
  } catch (e) {
    // It cannot be probed (the OS refuses to open it): the rules that need no open still speak, then why.
    const facts: DeviceFacts = { path: c.device, kind: c.device === c.disk ? 'disk' : 'partition', size: c.size, readOnly: c.readOnly, device: c.device, disks: [c.disk] };
    const rules = checkRestoreTarget({ target: facts, imageSize: disk.size, systemDisks: systemDisks(), appliance: applianceFacts(app.dir), mounts: mountsOf(c.device), holders: holdersOf(basename(c.device)) });
    return [...rules.map((p) => p.message), e instanceof ChronodiskError ? e.message : `${c.device} cannot be probed: ${(e as Error).message}`];
  }
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
