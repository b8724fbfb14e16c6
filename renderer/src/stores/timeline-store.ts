/**
 * The timeline of the selected disk: which point the window shows (the present, or a past
 * point), what the slider resolves to while it moves, the bookmarks and the activity
 * histogram. Points come in bounded windows through a PointResolver, so a disk with
 * 100,000 points costs a few small requests per move, never the whole list.
 */
import { create } from 'zustand';
import type { ActivityBucket, Bookmark, Point } from '../../../shared/contract.js';
import { PointCache, type PointRef } from '../model/point-cache.js';
import { PointResolver } from '../model/point-resolver.js';
import { pageStepUs, type Span } from '../model/slider-scale.js';
import { call } from './service-call.js';

/** What the browser shows: the present (following new points) or one past point. */
export type Viewing = { now: true } | { now: false; point: PointRef };

interface TimelineState {
  disk: string | undefined;
  span: Span | undefined;
  total: number;
  bookmarks: Bookmark[];
  activity: ActivityBucket[];
  viewing: Viewing;
  /** The point the slider resolves to right now (while dragging, before release). */
  shown: PointRef | undefined;
  /** Where the thumb is while dragging (µs); undefined: at the shown point. */
  dragUs: number | undefined;

  load(disk: string, span: Span | undefined): Promise<void>;
  loadActivity(buckets: number): Promise<void>;
  reloadBookmarks(): Promise<void>;
  drag(us: number): void;
  release(): Promise<void>;
  step(direction: 'older' | 'newer'): Promise<void>;
  page(direction: 'older' | 'newer'): Promise<void>;
  oldest(): Promise<void>;
  goNow(): void;
  view(point: PointRef): void;
  addBookmark(label: string): Promise<boolean>;
  removeBookmark(label: string): Promise<void>;
  applyPoint(p: Point): void;
}

let resolver: PointResolver | undefined;
/** Counts drags, so a late answer for an earlier position is dropped. */
let dragTicket = 0;
let activityBuckets = 0;
let activityTimer: ReturnType<typeof setTimeout> | undefined;

function newResolver(disk: string): PointResolver {
  return new PointResolver(new PointCache(), async (req) => {
    const r = await call('timeline', { disk, ...req });
    return r && { ...req, points: r.points, total: r.total };
  });
}

export const useTimelineStore = create<TimelineState>((set, get) => {
  /** Shows a resolved point; the newest one means the present. */
  const settle = (p: PointRef | undefined) => {
    if (!p) return;
    const newest = resolver?.cache.newest();
    set({ shown: p, dragUs: undefined, viewing: newest && newest.seq === p.seq ? { now: true } : { now: false, point: p } });
  };
  const current = (): PointRef | undefined => get().shown;
  const sameDisk = (disk: string | undefined) => disk !== undefined && get().disk === disk;

  return {
    disk: undefined,
    span: undefined,
    total: 0,
    bookmarks: [],
    activity: [],
    viewing: { now: true },
    shown: undefined,
    dragUs: undefined,

    async load(disk, span) {
      resolver = newResolver(disk);
      const r = resolver;
      dragTicket++;
      set({ disk, span, total: 0, bookmarks: [], activity: [], viewing: { now: true }, shown: undefined, dragUs: undefined });
      const res = await call('timeline', { disk, limit: 500 });
      if (!res || resolver !== r) return;
      r.cache.merge({ points: res.points, total: res.total });
      const first = res.points[0];
      const last = res.points[res.points.length - 1];
      // The sidebar's summary may be older than this answer: the newest point wins.
      const given = get().span;
      const s = first && last ? { firstUs: Math.min(given?.firstUs ?? first.timeUs, first.timeUs), latestUs: Math.max(given?.latestUs ?? 0, last.timeUs) } : given;
      set({ total: res.total, bookmarks: res.bookmarks, span: s, shown: r.cache.newest() });
      if (activityBuckets) await get().loadActivity(activityBuckets);
    },

    async loadActivity(buckets) {
      activityBuckets = buckets;
      const { disk, span } = get();
      if (!disk || !span || span.latestUs <= span.firstUs) return set({ activity: [] });
      const a = await call('activity', { disk, fromUs: span.firstUs, toUs: span.latestUs, buckets });
      if (a && sameDisk(disk)) set({ activity: a });
    },

    async reloadBookmarks() {
      const disk = get().disk;
      if (!disk) return;
      const res = await call('timeline', { disk, limit: 1 });
      if (res && sameDisk(disk)) set({ bookmarks: res.bookmarks });
    },

    drag(us) {
      const r = resolver;
      if (!r) return;
      const ticket = ++dragTicket;
      set({ dragUs: us });
      const known = r.knownAtOrBefore(us);
      if (known !== null) {
        if (known) set({ shown: known });
        return;
      }
      void r.atOrBefore(us).then((p) => {
        if (ticket === dragTicket && p && resolver === r) set({ shown: p });
      });
    },

    async release() {
      const r = resolver;
      const us = get().dragUs;
      if (!r || us === undefined) return;
      const ticket = ++dragTicket;
      const p = await r.atOrBefore(us);
      if (ticket !== dragTicket || resolver !== r) return;
      // Before the first point: the oldest point is the nearest there is.
      settle(p ?? (await r.atOrBefore(get().span?.firstUs ?? us)));
    },

    async step(direction) {
      const r = resolver;
      const at = current();
      if (!r || !at) return;
      const ticket = ++dragTicket;
      const p = direction === 'older' ? await r.older(at) : await r.newer(at);
      if (ticket === dragTicket && resolver === r && p) settle(p);
    },

    async page(direction) {
      const r = resolver;
      const at = current();
      const span = get().span;
      if (!r || !at || !span) return;
      const ticket = ++dragTicket;
      const stepUs = pageStepUs(span);
      let p: PointRef | undefined;
      if (direction === 'older') p = (await r.atOrBefore(at.timeUs - stepUs)) ?? (await r.atOrBefore(span.firstUs));
      else {
        p = await r.atOrBefore(at.timeUs + stepUs);
        if (p && p.seq <= at.seq) p = await r.newer(at);
      }
      if (ticket === dragTicket && resolver === r && p) settle(p);
    },

    async oldest() {
      const r = resolver;
      const span = get().span;
      if (!r || !span) return;
      const ticket = ++dragTicket;
      const p = await r.atOrBefore(span.firstUs);
      if (ticket === dragTicket && resolver === r) settle(p);
    },

    goNow() {
      dragTicket++;
      set({ viewing: { now: true }, shown: resolver?.cache.newest() ?? get().shown, dragUs: undefined });
    },

    view(point) {
      dragTicket++;
      settle(point);
    },

    async addBookmark(label) {
      const { disk, shown } = get();
      if (!disk || !shown) return false;
      const b = await call('addBookmark', { disk, at: String(shown.seq), label });
      if (!b) return false;
      await get().reloadBookmarks();
      return true;
    },

    async removeBookmark(label) {
      const disk = get().disk;
      if (!disk) return;
      if ((await call('removeBookmark', { disk, label })) !== undefined) await get().reloadBookmarks();
    },

    applyPoint(p) {
      if (!resolver || p.disk !== get().disk) return;
      resolver.cache.append({ seq: p.seq, timeUs: p.timeUs });
      set((s) => ({
        total: s.total + 1,
        span: { firstUs: s.span?.firstUs ?? p.timeUs, latestUs: Math.max(p.timeUs, s.span?.latestUs ?? 0) },
        // The present follows new points; a past point stays where it is.
        shown: s.viewing.now && s.dragUs === undefined ? { seq: p.seq, timeUs: p.timeUs } : s.shown,
      }));
      // The histogram's buckets stretch with the span: refresh it, at most every few seconds.
      clearTimeout(activityTimer);
      activityTimer = setTimeout(() => void get().loadActivity(activityBuckets), 3000);
    },
  };
});

/** The `at` the browser and restores use for what is shown. */
export function viewingAt(v: Viewing): string {
  return v.now ? 'now' : String(v.point.seq);
}
