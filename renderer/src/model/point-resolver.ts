/**
 * Answers the slider's questions — the point at or before a time, the point before or after
 * a point — from a PointCache, asking for bounded timeline windows when the cache cannot
 * say. However many points a disk holds, each answer costs a few requests of `limit`
 * points at most. The request itself is injected (the store passes the service's
 * timeline), which keeps this testable without a service.
 */
import { PointCache, type Lookup, type PointRef, type TimelineWindow, type WindowRequest } from './point-cache.js';

export type FetchWindow = (req: WindowRequest & { limit: number }) => Promise<TimelineWindow | undefined>;

/** Points per timeline request: enough to step through a stretch locally, small on the wire. */
export const WINDOW_POINTS = 500;
const MAX_ROUNDS = 24;

export class PointResolver {
  constructor(
    readonly cache: PointCache,
    private readonly fetchWindow: FetchWindow,
    private readonly limit = WINDOW_POINTS,
  ) {}

  /** Loads the newest window (what the slider shows first). */
  async loadNewest(): Promise<TimelineWindow | undefined> {
    return this.fetch({});
  }

  /** The last point at or before `us` (undefined: none, or the request failed). */
  atOrBefore(us: number): Promise<PointRef | undefined> {
    return this.settle(() => this.cache.atOrBefore(us));
  }

  older(ref: PointRef): Promise<PointRef | undefined> {
    return this.settle(() => this.cache.older(ref));
  }

  newer(ref: PointRef): Promise<PointRef | undefined> {
    return this.settle(() => this.cache.newer(ref));
  }

  /** The point at or before `us` if the cache knows it now, without asking. */
  knownAtOrBefore(us: number): PointRef | undefined | null {
    const l = this.cache.atOrBefore(us);
    return l.known ? l.point : null;
  }

  private async fetch(req: WindowRequest): Promise<TimelineWindow | undefined> {
    const w = await this.fetchWindow({ ...req, limit: this.limit });
    if (w) this.cache.merge(w);
    return w;
  }

  private async settle(look: () => Lookup): Promise<PointRef | undefined> {
    let narrowTo: number | undefined;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const l = look();
      if (l.known) return l.point;
      const need = { ...l.need };
      // A forward gap holding more than a window: ask for its first stretch only, sized by
      // the count the last answer reported, so the next answer is complete.
      if (narrowTo !== undefined && need.fromUs !== undefined && (need.toUs === undefined || narrowTo < need.toUs)) need.toUs = narrowTo;
      const w = await this.fetch(need);
      if (!w) return undefined;
      narrowTo = undefined;
      if (need.fromUs !== undefined && w.total > w.points.length) {
        const to = need.toUs ?? (w.points[w.points.length - 1]?.timeUs ?? need.fromUs);
        const width = Math.max(1, to - need.fromUs);
        narrowTo = need.fromUs + Math.max(0, Math.floor((width * this.limit) / (2 * w.total)));
      }
    }
    return undefined;
  }
}
