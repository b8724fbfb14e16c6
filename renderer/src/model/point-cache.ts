/**
 * The points of one disk that the window has seen, and the time ranges over which it has
 * seen every point. A disk may hold 100,000 points or more; the window asks the service for
 * bounded windows of them (timeline with a limit) and answers "which point is at or before
 * this time", "which point comes before or after this one" from what it holds, or says
 * which window it needs to know first. Pure: no requests, no React.
 */
import type { Point } from '../../../shared/contract.js';

/** A point as the window needs it: which commit, when, and its bookmark label if any. */
export interface PointRef {
  seq: number;
  timeUs: number;
  label?: string;
}

/** Every point with lo <= timeUs <= hi is known. */
interface Covered {
  lo: number;
  hi: number;
}

/** What a timeline request asked for and what it answered. */
export interface TimelineWindow {
  fromUs?: number;
  toUs?: number;
  points: readonly Point[];
  /** How many points the range holds (the answer may hold fewer: the newest `limit`). */
  total: number;
}

/** A timeline request the cache needs answered before it can say. */
export interface WindowRequest {
  fromUs?: number;
  toUs?: number;
}

export type Lookup = { known: true; point: PointRef | undefined } | { known: false; need: WindowRequest };

const END = Number.MAX_SAFE_INTEGER;

export class PointCache {
  private points: PointRef[] = [];
  private covered: Covered[] = [];

  get size(): number {
    return this.points.length;
  }

  /** Takes in one timeline answer and the range it covers. */
  merge(w: TimelineWindow): void {
    if (w.points.length) this.addPoints(w.points.map((p) => ({ seq: p.seq, timeUs: p.timeUs, ...(p.label ? { label: p.label } : {}) })));
    const hi = w.toUs ?? END;
    // A truncated answer holds the newest points of the range: every point after the oldest
    // one it returned is known; at that oldest time, only the newer ones may be.
    const lo = w.points.length < w.total ? w.points[0]!.timeUs + 1 : (w.fromUs ?? 0);
    if (lo <= hi) this.cover({ lo, hi });
  }

  /** Adds a point the service announced (pointCommitted). */
  append(p: PointRef): void {
    // Newer than every point, so a range known up to the end stays fully known.
    this.addPoints([p]);
  }

  /** The last point at or before `us`. */
  atOrBefore(us: number): Lookup {
    const c = this.coverOf(us);
    if (!c) return { known: false, need: { toUs: us } };
    const i = this.lastIndexAtOrBefore(us);
    const p = i >= 0 ? this.points[i] : undefined;
    // The point is the answer when nothing unknown can lie between it and `us`.
    if (p && p.timeUs >= c.lo - 1) return { known: true, point: p };
    if (c.lo === 0) return { known: true, point: undefined };
    return { known: false, need: { toUs: us } };
  }

  /** The point just before `ref` (by sequence; `ref` need not be cached). */
  older(ref: PointRef): Lookup {
    const c = this.coverOf(ref.timeUs);
    if (c) {
      const prev = this.points[this.firstIndexAfterSeq(ref.seq - 1) - 1];
      if (prev && prev.timeUs >= c.lo - 1) return { known: true, point: prev };
      if (!prev && c.lo === 0) return { known: true, point: undefined };
    }
    return { known: false, need: { toUs: ref.timeUs } };
  }

  /** The point just after `ref` (by sequence). `need` names the range to ask for when not known. */
  newer(ref: PointRef): Lookup {
    const c = this.coverOf(ref.timeUs) ?? this.coverOf(ref.timeUs + 1);
    if (c) {
      const next = this.points[this.firstIndexAfterSeq(ref.seq)];
      if (next && next.timeUs <= c.hi) return { known: true, point: next };
      if (!next && c.hi === END) return { known: true, point: undefined };
    }
    // Ask for the gap between what is known from this point on and the next stretch we know.
    const from = c ? c.hi + 1 : ref.timeUs;
    const after = this.covered.find((k) => k.lo > from);
    return { known: false, need: { fromUs: from, toUs: after ? after.lo - 1 : undefined } };
  }

  /** The newest known point, when every point after it is known. */
  newest(): PointRef | undefined {
    const last = this.covered[this.covered.length - 1];
    return last?.hi === END ? this.points[this.points.length - 1] : undefined;
  }

  private coverOf(us: number): Covered | undefined {
    // Few intervals (one per window asked for): a linear scan is fine.
    return this.covered.find((c) => c.lo <= us && us <= c.hi);
  }

  private cover(n: Covered): void {
    const out: Covered[] = [];
    let merged = { ...n };
    for (const c of this.covered) {
      if (c.hi + 1 < merged.lo || merged.hi + 1 < c.lo) out.push(c);
      else merged = { lo: Math.min(c.lo, merged.lo), hi: Math.max(c.hi, merged.hi) };
    }
    out.push(merged);
    out.sort((a, b) => a.lo - b.lo);
    this.covered = out;
  }

  private addPoints(add: PointRef[]): void {
    const last = this.points[this.points.length - 1];
    const sorted = add.every((p, k) => k === 0 || add[k - 1]!.seq < p.seq);
    if (sorted && (!last || last.seq < add[0]!.seq)) {
      // The common cases: the first window, a newer window, a committed point.
      this.points.push(...add);
      return;
    }
    const bySeq = new Map(this.points.map((p) => [p.seq, p]));
    for (const p of add) bySeq.set(p.seq, p);
    this.points = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Index of the first point with a sequence above `seq` (the length when none). */
  private firstIndexAfterSeq(seq: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.points[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the last point with timeUs <= us (times never decrease with seq on one disk). */
  private lastIndexAtOrBefore(us: number): number {
    let lo = 0;
    let hi = this.points.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.points[mid]!.timeUs <= us) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}
