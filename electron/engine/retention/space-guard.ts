import { statfsSync, statSync } from 'node:fs';
import { freeBytes } from '../store/free-space.js';
import type { Appliance } from '../appliance.js';
import { ChronodiskError, isChronodiskError } from '../errors.js';
import { formatBytes } from '../../../shared/units.js';
import { executeThinning, narrowPlan, planThinning, rewriteBytes, type ThinPlan } from './thin.js';

export type SpaceState =
  | { state: 'ok'; freeBytes: number }
  | { state: 'thinned'; freeBytes: number; removedPoints: number; message: string }
  /** Thinning could not run now (a capture batch was open): ask again later. */
  | { state: 'deferred'; freeBytes: number }
  | { state: 'full'; freeBytes: number; message: string };

export interface SpaceOptions {
  nowUs?: number;
  /**
   * What the next capture step is expected to store (the caller's largest recent step).
   * Thinning starts that far above the floor (at most the floor again), so the step lands
   * above it and the floor stays what it is for: the room thinning needs to rewrite segments.
   */
  reserveBytes?: number;
  /** What a `full` appliance means for the caller, for its message (default: capture is paused until there is room). */
  whenFull?: string;
}

export { freeBytes };

/** The floor below which thinning starts early: the `minFreeBytes` setting, else 1 GiB or 5 % of the filesystem, whichever is smaller. */
export function minFreeOf(app: Appliance): number {
  const set = app.setting<number>('minFreeBytes');
  if (typeof set === 'number') return set;
  const s = statfsSync(app.dir);
  return Math.min(1024 ** 3, Math.floor(s.blocks * s.bsize * 0.05));
}

/**
 * Sets the `minFreeBytes` floor. One at or above the size of the appliance's filesystem
 * could never be met: capture would stay paused for good, so it is refused.
 */
export function setMinFree(app: Appliance, bytes: number): void {
  const s = statfsSync(app.dir);
  const size = s.blocks * s.bsize;
  if (bytes >= size) {
    throw new ChronodiskError('usage', `a free-space floor of ${formatBytes(bytes)} is no smaller than the appliance's drive (${formatBytes(size)}): capture would never run; choose a smaller one`);
  }
  app.setSetting('minFreeBytes', bytes);
}

/**
 * Room a thinning must leave untouched besides its new segments: the catalog record, and
 * the index's rebuild of the swapped segments, which goes through SQLite's WAL in one
 * transaction (bounded by the index's own size; twice that, to be safe).
 */
export function metadataMargin(app: Appliance): number {
  let index = 0;
  for (const file of [app.index.db.name, `${app.index.db.name}-wal`]) {
    try {
      index += statSync(file).size;
    } catch {
      // no WAL yet, or an in-memory index: nothing of its own to grow
    }
  }
  return 2 ** 20 + 2 * index;
}

/**
 * The largest part of a plan, oldest removals first, whose segments fit in `budget` bytes.
 * Thinning writes the new segments before the old ones go, so a plan bigger than the free
 * room would fail with the filesystem full; a part of it frees room for the next.
 */
export function fitPlan(app: Appliance, plan: ThinPlan, budget: number): ThinPlan {
  if (rewriteBytes(app, plan) <= budget) return plan;
  const removals = plan.disks.flatMap((d) => d.removed.map((r) => r.seq)).sort((a, b) => a - b);
  const drop = plan.droppedDisks.length > 0 && rewriteBytes(app, { disks: [], droppedDisks: plan.droppedDisks }) <= budget;
  const droppedDisks = drop ? plan.droppedDisks : [];
  const fits = (k: number) => rewriteBytes(app, { disks: [{ removed: removals.slice(0, k).map((seq) => ({ seq })) }], droppedDisks }) <= budget;
  // The segments rewritten only grow with each removal added, so the fitting prefixes are
  // exactly those up to some length: find it by bisection.
  let lo = 0;
  let hi = removals.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return narrowPlan(app, plan, new Set(removals.slice(0, lo)), drop);
}

export type RoomyThinning =
  | { state: 'done'; plan: ThinPlan; bytesRewritten: number }
  /** Not worth doing (the caller's rule), or nothing of it fits the room. */
  | { state: 'skipped' }
  /** A capture batch was open: not now. */
  | { state: 'deferred' }
  /** The filesystem filled meanwhile (other writers share it): the appliance is as it was. */
  | { state: 'no-space' };

/**
 * Carries out the part of `plan` that fits `budget` (fitPlan; by default the room there
 * is), when `worth` says that part is worth doing.
 */
export async function thinInRoom(app: Appliance, plan: ThinPlan, worth: (fitted: ThinPlan) => boolean, budget = freeBytes(app.dir) - metadataMargin(app)): Promise<RoomyThinning> {
  const fitted = fitPlan(app, plan, budget);
  if (!worth(fitted)) return { state: 'skipped' };
  try {
    const r = await executeThinning(app, fitted);
    return { state: 'done', plan: fitted, bytesRewritten: r.bytesRewritten };
  } catch (e) {
    // The estimate is an upper bound, but other writers share the filesystem; and a
    // scan pass's batch may be open (split writes call this while it runs): not now.
    if (isChronodiskError(e, 'busy')) return { state: 'deferred' };
    if (isChronodiskError(e, 'no-space')) return { state: 'no-space' };
    throw e;
  }
}

/**
 * Keeps the appliance above its free-space floor (plus the reserve for the next step):
 * first retiring segments that only failed batches wrote (reclaimUnreferenced), then
 * thinning by each disk's policy, then — oldest first — half of the remaining points
 * that no bookmark holds, round after round, each in parts that fit the room there is,
 * until there is room or nothing more can go. `full` means capture must pause: it is
 * below the floor and nothing more can be thinned.
 */
export function ensureSpace(app: Appliance, options: SpaceOptions = {}): Promise<SpaceState> {
  // One guard at a time per appliance (the capture loop and each split disk call it): the
  // next one looks at the free space the last one left.
  const run = (guards.get(app) ?? Promise.resolve()).then(() => guardSpace(app, options));
  guards.set(
    app,
    run.then(
      () => undefined,
      () => undefined,
    ),
  );
  return run;
}

const guards = new WeakMap<Appliance, Promise<void>>();

async function guardSpace(app: Appliance, options: SpaceOptions): Promise<SpaceState> {
  const nowUs = options.nowUs ?? Date.now() * 1000;
  const floor = minFreeOf(app);
  // At most the floor again: a disk's first pass may be huge, and must not make the guard
  // give up history to keep room for another like it.
  const wanted = floor + Math.min(floor, Math.max(0, options.reserveBytes ?? 0));
  let free = freeBytes(app.dir);
  // A writer that opened on a full drive goes back to its index file once there is room.
  if (free >= floor) await app.moveIndexToFile().catch((e: unknown) => (isChronodiskError(e, 'busy') ? false : Promise.reject(e)));
  if (free >= wanted) return { state: 'ok', freeBytes: free };
  // What failed batches left (nothing refers to it) goes before any point does.
  if ((await app.reclaimUnreferenced()).segments > 0) {
    free = freeBytes(app.dir);
    if (free >= wanted) return { state: 'ok', freeBytes: free };
  }
  let removed = 0;
  let deferred = false;
  const attempt = async (override?: Parameters<typeof planThinning>[2]) => {
    // Points are history: never give any up for a thinning that frees nothing.
    const r = await thinInRoom(app, planThinning(app, nowUs, override), (plan) => plan.droppedDisks.length > 0 || (plan.removedPoints > 0 && plan.bytesFreed > 0));
    if (r.state === 'deferred') deferred = true;
    if (r.state !== 'done') return false;
    removed += r.plan.removedPoints;
    free = freeBytes(app.dir);
    return true;
  };
  // By policy first, as long as each part makes progress.
  for (let round = 0; free < wanted && !deferred && round < 8; round++) {
    if (!(await attempt())) break;
  }
  // Then the oldest share of the points no bookmark holds; a longer run frees more (its
  // later writes overwrite its earlier ones), so the share grows when a round frees nothing.
  let share = 0.5;
  for (let round = 0; free < wanted && !deferred && round < 16; round++) {
    const progressed = await attempt((disk) => {
      const points = app.timeline.points(disk);
      const pinned = new Set(app.bookmarks(disk).map((b) => b.seq));
      const removable = points.slice(0, -1).filter((p) => !pinned.has(p.seq));
      const goes = new Set(removable.slice(0, Math.ceil(removable.length * share)).map((p) => p.seq));
      return new Set(points.filter((p) => !goes.has(p.seq)).map((p) => p.seq));
    });
    if (!progressed) {
      if (share === 1) break;
      share = Math.min(1, share * 1.5);
    }
  }
  if (removed > 0 && free >= floor) {
    return { state: 'thinned', freeBytes: free, removedPoints: removed, message: `the appliance was low on space: thinned ${removed} old point${removed === 1 ? '' : 's'} early` };
  }
  // Between the floor and the reserve with nothing to thin is still room to capture.
  if (free >= floor) return { state: 'ok', freeBytes: free };
  if (deferred) return { state: 'deferred', freeBytes: free };
  return {
    state: 'full',
    freeBytes: free,
    message: `the appliance is full (${Math.round(free / 2 ** 20)} MiB free, floor ${Math.round(floor / 2 ** 20)} MiB) and nothing more can be thinned; ${options.whenFull ?? 'capture is paused until there is room'} (remove bookmarks or unprotect a disk)`,
  };
}
