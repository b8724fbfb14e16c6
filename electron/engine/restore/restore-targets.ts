import { realpathSync } from 'node:fs';
import type { Appliance } from '../appliance.js';
import { listDrives } from '../devices/drives.js';
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
    const candidates = [
      { device: drive.device, description: drive.description, size: drive.size },
      ...(withPartitions ? drive.partitions.map((p) => ({ device: p.device, description: `partition ${p.number} of ${drive.description}`, size: p.size })) : []),
    ];
    for (const c of candidates) {
      if (c.device === own) continue; // the in-place entry stands for it
      out.push({ ...c, inPlace: false, problems: await problemsOf(app, disk, c.device) });
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

async function problemsOf(app: Appliance, disk: DiskRecord, device: string): Promise<string[]> {
  try {
    return (await inspectTarget(app.dir, disk, device)).problems.map((p) => p.message);
  } catch (e) {
    return [e instanceof ChronodiskError ? e.message : `${device} cannot be probed: ${(e as Error).message}`];
  }
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
