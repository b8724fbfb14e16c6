/** Add a bookmark on the shown point, or remove the one it has. */
import { useId, useState, type FormEvent } from 'react';
import { useTimelineStore } from '../stores/timeline-store.js';

export function BookmarkControls() {
  const shown = useTimelineStore((s) => s.shown);
  const bookmarks = useTimelineStore((s) => s.bookmarks);
  const add = useTimelineStore((s) => s.addBookmark);
  const remove = useTimelineStore((s) => s.removeBookmark);
  const [editing, setEditing] = useState(false);
  const [label, setLabel] = useState('');
  const id = useId();
  if (!shown) return null;
  const marks = bookmarks.filter((b) => b.seq === shown.seq);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!label.trim()) return;
    if (await add(label.trim())) {
      setEditing(false);
      setLabel('');
    }
  };
  return (
    <div className="bookmark-controls">
      {marks.map((b) => (
        <button key={b.label} type="button" className="button button-small" onClick={() => void remove(b.label)} aria-label={`Remove bookmark ${b.label}`}>
          ★ {b.label} ×
        </button>
      ))}
      {editing ? (
        <form onSubmit={(e) => void submit(e)} className="bookmark-form">
          <label htmlFor={id} className="visually-hidden">
            Bookmark label
          </label>
          <input id={id} autoFocus value={label} maxLength={200} placeholder="before upgrade" onChange={(e) => setLabel(e.target.value)} onKeyDown={(e) => e.key === 'Escape' && setEditing(false)} />
          <button type="submit" className="button button-small button-primary">
            Add
          </button>
        </form>
      ) : (
        <button type="button" className="button button-small" onClick={() => setEditing(true)}>
          + Bookmark
        </button>
      )}
    </div>
  );
}
