import { statfsSync } from 'node:fs';
import type { Appliance } from '../appliance.js';
import { isChronodiskError } from '../errors.js';
import { executeThinning, planThinning } from './thin.js';

export type SpaceState =
  | { state: 'ok'; freeBytes: number }
  | { state: 'thinned'; freeBytes: number; removedPoints: number; message: string }
  | { state: 'full'; freeBytes: number; message: string };

/** Free bytes on the appliance's filesystem (for an unprivileged writer: what it may use). */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** The floor below which thinning starts early: the `minFreeBytes` setting, else 1 GiB or 5 % of the filesystem, whichever is smaller. */
export function minFreeOf(app: Appliance): number {
  const set = app.setting<number>('minFreeBytes');
  if (typeof set === 'number') return set;
  const s = statfsSync(app.dir);
  return Math.min(1024 ** 3, Math.floor(s.blocks * s.bsize * 0.05));
}

/**
 * Keeps the appliance above its free-space floor: first thinning by each disk's policy,
 * then — oldest first — half of the remaining points that no bookmark holds, round after
 * round, until there is room or nothing more can go. `full` means capture must pause.
 */
export async function ensureSpace(app: Appliance, nowUs = Date.now() * 1000): Promise<SpaceState> {
  const floor = minFreeOf(app);
  let free = freeBytes(app.dir);
  if (free >= floor) return { state: 'ok', freeBytes: free };
  let removed = 0;
  const attempt = async (override?: Parameters<typeof planThinning>[2]) => {
    const plan = planThinning(app, nowUs, override);
    if (plan.removedPoints === 0 && plan.droppedDisks.length === 0) return false;
    try {
      await executeThinning(app, plan);
    } catch (e) {
      // Thinning needs room for the segments it writes; without it, the old ones stay.
      if (isChronodiskError(e, 'no-space')) return false;
      throw e;
    }
    removed += plan.removedPoints;
    free = freeBytes(app.dir);
    return true;
  };
  await attempt();
  for (let round = 0; free < floor && round < 8; round++) {
    const progressed = await attempt((disk) => {
      const points = app.timeline.points(disk);
      const pinned = new Set(app.bookmarks(disk).map((b) => b.seq));
      const removable = points.slice(0, -1).filter((p) => !pinned.has(p.seq));
      const goes = new Set(removable.slice(0, Math.ceil(removable.length / 2)).map((p) => p.seq));
      return new Set(points.filter((p) => !goes.has(p.seq)).map((p) => p.seq));
    });
    if (!progressed) break;
  }
  if (free >= floor) {
    return { state: 'thinned', freeBytes: free, removedPoints: removed, message: `the appliance was low on space: thinned ${removed} old points early` };
  }
  return {
    state: 'full',
    freeBytes: free,
    message: `the appliance is full (${Math.round(free / 2 ** 20)} MiB free, floor ${Math.round(floor / 2 ** 20)} MiB) and nothing more can be thinned; capture is paused until there is room (remove bookmarks or unprotect a disk)`,
  };
}
