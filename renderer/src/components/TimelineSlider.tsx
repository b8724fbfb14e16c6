/**
 * The vertical slider over the disk's history, newest at the top: drag it, or use the
 * keys (↑/↓ one point, PageUp/PageDown a tenth of the span, Home the oldest point, End
 * now). The label shows the time of the point it resolves to: the last at or before.
 */
import { useEffect, useRef, type KeyboardEvent, type PointerEvent } from 'react';
import { formatPointTime } from '../format/local-time.js';
import { fractionOfTime, timeAtFraction, bucketCount } from '../model/slider-scale.js';
import { useTimelineStore } from '../stores/timeline-store.js';
import { ActivityHistogram } from './ActivityHistogram.js';

export function TimelineSlider() {
  const span = useTimelineStore((s) => s.span);
  const shown = useTimelineStore((s) => s.shown);
  const dragUs = useTimelineStore((s) => s.dragUs);
  const bookmarks = useTimelineStore((s) => s.bookmarks);
  const activity = useTimelineStore((s) => s.activity);
  const viewing = useTimelineStore((s) => s.viewing);
  const { drag, release, step, page, oldest, goNow, view, loadActivity } = useTimelineStore.getState();
  const track = useRef<HTMLDivElement>(null);
  const dragging = useRef(false);

  // One histogram bucket per few pixels of track; asked again when the window is resized.
  useEffect(() => {
    const el = track.current;
    if (!el) return;
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ro = new ResizeObserver(() => {
      const n = bucketCount(el.clientHeight);
      if (n === last) return;
      last = n;
      clearTimeout(timer);
      timer = setTimeout(() => void loadActivity(n), 150);
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      clearTimeout(timer);
    };
  }, [loadActivity, span !== undefined && shown !== undefined]);

  if (!span || !shown) return <div className="slider-empty">No points yet</div>;

  const timeAt = (clientY: number) => {
    const r = track.current!.getBoundingClientRect();
    return timeAtFraction(span, (clientY - r.top) / Math.max(1, r.height));
  };
  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    if (e.button !== 0) return;
    dragging.current = true;
    e.currentTarget.setPointerCapture(e.pointerId);
    e.currentTarget.focus();
    drag(timeAt(e.clientY));
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    if (dragging.current) drag(timeAt(e.clientY));
  };
  const onPointerUp = () => {
    if (!dragging.current) return;
    dragging.current = false;
    void release();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const keys: Record<string, () => unknown> = {
      ArrowUp: () => step('newer'),
      ArrowRight: () => step('newer'),
      ArrowDown: () => step('older'),
      ArrowLeft: () => step('older'),
      PageUp: () => page('newer'),
      PageDown: () => page('older'),
      Home: () => oldest(),
      End: () => goNow(),
    };
    const act = keys[e.key];
    if (!act) return;
    e.preventDefault();
    void act();
  };

  const thumbUs = dragUs ?? shown.timeUs;
  const label = formatPointTime(shown.timeUs);
  const mark = bookmarks.find((b) => b.seq === shown.seq);
  const text = viewing.now && dragUs === undefined ? `Now · ${label}` : label;
  return (
    <div className="slider">
      <ActivityHistogram buckets={activity} span={span} />
      <div
        ref={track}
        className="slider-track"
        role="slider"
        tabIndex={0}
        aria-label="Timeline"
        aria-orientation="vertical"
        aria-valuemin={span.firstUs}
        aria-valuemax={span.latestUs}
        aria-valuenow={shown.timeUs}
        aria-valuetext={mark ? `${text}, bookmark ${mark.label}` : text}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={onPointerUp}
        onKeyDown={onKeyDown}
      >
        <div className="slider-rail" aria-hidden="true" />
        <div className="slider-fill" style={{ top: `${fractionOfTime(span, thumbUs) * 100}%` }} aria-hidden="true" />
        <div className="slider-thumb" style={{ top: `${fractionOfTime(span, thumbUs) * 100}%` }} aria-hidden="true">
          <output className="slider-label">
            {mark && <span className="slider-label-mark">★ {mark.label}</span>}
            {text}
          </output>
        </div>
      </div>
      <ul className="bookmark-marks" aria-label="Bookmarks">
        {bookmarks.map((b) => (
          <li key={`${b.seq}-${b.label}`} style={{ top: `${fractionOfTime(span, b.timeUs) * 100}%` }}>
            <button type="button" className="bookmark-mark" aria-label={`Bookmark ${b.label}`} title={`${b.label} · ${formatPointTime(b.timeUs)}`} onClick={() => view({ seq: b.seq, timeUs: b.timeUs, label: b.label })} />
          </li>
        ))}
      </ul>
    </div>
  );
}
