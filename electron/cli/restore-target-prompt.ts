import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes } from '../../shared/units.js';
import type { Appliance } from '../engine/appliance.js';
import { ChronodiskError } from '../engine/errors.js';
import { inspectTarget, type TargetInspection } from '../engine/restore/copy-to-target.js';
import type { DiskRecord } from '../engine/store/catalog-state.js';
import type { PointInfo } from '../engine/timeline.js';
import { confirmDestructive } from './output.js';

export interface TargetPromptOptions {
  yes?: boolean;
  json?: boolean;
}

/**
 * Checks a restore target against the safety rules, shows what is on it (stderr) and asks
 * for confirmation (--yes for scripts). Throws when refused or not confirmed.
 */
export async function checkedTarget(app: Appliance, disk: DiskRecord, point: PointInfo, to: string, opts: TargetPromptOptions): Promise<TargetInspection> {
  const t = await inspectTarget(app.dir, disk, to);
  refuseProblems(t, to);
  if (!opts.json || !opts.yes) for (const line of describeTarget(t)) process.stderr.write(`${line}\n`);
  await confirmDestructive(`Overwrite ${to} with ${disk.name} as it was at point ${point.seq} (${formatIsoMicros(point.timeUs)})?`, opts.yes);
  return t;
}

/**
 * The rules that need no appliance open (system disk, the appliance's own, mounted, in use),
 * checked before opening it: a refused target is refused before anything is touched.
 */
export async function precheckTarget(applianceDir: string, to: string): Promise<void> {
  refuseProblems(await inspectTarget(applianceDir, undefined, to), to);
}

function refuseProblems(t: TargetInspection, to: string): void {
  if (t.problems.length) throw new ChronodiskError('refused', `cannot restore onto ${to}: ${t.problems[0]!.message}`);
}

/** What the person is about to overwrite: model, size, current partitions. */
export function describeTarget(t: TargetInspection): string[] {
  if (t.kind === 'new-file') return [`Target: ${t.path} (a new image file)`];
  const what = t.kind === 'file' ? 'image file' : t.kind === 'loop' ? `loop device over ${t.backingFile}` : t.kind;
  const lines = [`Target: ${t.path} — ${t.model ? `${t.model}, ` : ''}${what}, ${formatBytes(t.size)}`];
  for (const p of t.partitions) {
    lines.push(`  partition ${p.number}: ${p.device}, ${formatBytes(p.size)} at ${formatBytes(p.start)}${p.mountpoints.length ? `, mounted at ${p.mountpoints.join(', ')}` : ''}`);
  }
  if (t.partitions.length === 0 && t.kind !== 'file') lines.push('  no partitions');
  return lines;
}

