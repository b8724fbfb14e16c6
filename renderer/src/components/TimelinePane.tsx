/** The right edge: "Now" at the top, the slider with its histogram and bookmarks, bookmark controls below. */
import { useTimelineStore } from '../stores/timeline-store.js';
import { BookmarkControls } from './BookmarkControls.js';
import { TimelineSlider } from './TimelineSlider.js';

export function TimelinePane() {
  const viewing = useTimelineStore((s) => s.viewing);
  const total = useTimelineStore((s) => s.total);
  const goNow = useTimelineStore((s) => s.goNow);
  const disk = useTimelineStore((s) => s.disk);
  if (!disk) return null;
  return (
    <aside className="timeline" aria-label="Timeline of points">
      <button type="button" className={viewing.now ? 'now-button now-button-on' : 'now-button'} onClick={goNow} aria-pressed={viewing.now}>
        Now
      </button>
      <TimelineSlider />
      <p className="timeline-count">{total.toLocaleString()} points</p>
      <BookmarkControls />
    </aside>
  );
}
