import type { Handlers } from '../request-router.js';
import { resolvePoint, type ServiceContext } from '../service-context.js';
import { bookmarkOf, pointOf } from '../wire-shapes.js';

/** Without a limit a timeline sends at most this many points (the newest), so a reply stays well under the envelope limit. */
const DEFAULT_LIMIT = 100_000;

/** Timeline, activity, resolving points, bookmarks. */
export function timelineHandlers(ctx: ServiceContext): Pick<Handlers, 'timeline' | 'activity' | 'resolvePoint' | 'addBookmark' | 'removeBookmark'> {
  const { app } = ctx;
  return {
    timeline: ({ disk: name, fromUs, toUs, limit }) => {
      const disk = app.disk(name);
      const range = { fromUs, toUs };
      return {
        points: app.timeline.newestPoints(disk, { ...range, limit: limit ?? DEFAULT_LIMIT }).map(pointOf),
        bookmarks: app.bookmarks(disk).map((b) => bookmarkOf(disk, b)),
        total: app.timeline.count(disk, range),
      };
    },

    activity: ({ disk: name, fromUs, toUs, buckets }) => (toUs <= fromUs ? [] : app.timeline.activity(app.disk(name), fromUs, toUs, buckets)),

    resolvePoint: ({ disk: name, at }) => {
      const disk = app.disk(name);
      return pointOf(resolvePoint(app, disk, at));
    },

    addBookmark: ({ disk: name, at, label }) => {
      const disk = app.disk(name);
      const b = app.addBookmark(disk, resolvePoint(app, disk, at), label);
      ctx.events.emit('bookmarksChanged', { disk: disk.name });
      return bookmarkOf(disk, b);
    },

    removeBookmark: ({ disk: name, label }) => {
      const disk = app.disk(name);
      app.removeBookmark(disk, label);
      ctx.events.emit('bookmarksChanged', { disk: disk.name });
      return {};
    },
  };
}
