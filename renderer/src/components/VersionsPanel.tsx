/** The versions of the selected file: each point where it changed; choosing one moves the timeline there. */
import { formatBytes } from '../../../shared/units.js';
import { formatPointTime } from '../format/local-time.js';
import { baseName } from '../model/inner-path.js';
import { useTimelineStore } from '../stores/timeline-store.js';
import { useVersionsStore } from '../stores/versions-store.js';

const changeWords = { added: 'Added', changed: 'Changed', removed: 'Removed' } as const;

export function VersionsPanel() {
  const path = useVersionsStore((s) => s.path);
  const versions = useVersionsStore((s) => s.versions);
  const close = useVersionsStore((s) => s.close);
  const view = useTimelineStore((s) => s.view);
  const shown = useTimelineStore((s) => s.shown);
  if (!path) return null;
  // The version the shown point holds: the newest at or before it.
  const current = shown && versions?.reduce<number | undefined>((c, v) => (v.seq <= shown.seq && (c === undefined || v.seq > c) ? v.seq : c), undefined);
  return (
    <aside className="versions" aria-label={`Versions of ${baseName(path)}`}>
      <header className="versions-header">
        <h3>Versions of {baseName(path)}</h3>
        <button type="button" className="icon-button" aria-label="Close versions" onClick={close}>
          ×
        </button>
      </header>
      {versions === undefined ? (
        <p className="muted">Reading its history…</p>
      ) : versions.length === 0 ? (
        <p className="muted">No versions found.</p>
      ) : (
        <ol className="version-list">
          {versions.map((v) => (
            <li key={v.seq}>
              <button
                type="button"
                className={v.seq === current ? 'version version-current' : 'version'}
                aria-current={v.seq === current ? 'true' : undefined}
                onClick={() => view({ seq: v.seq, timeUs: v.timeUs })}
              >
                <span className="version-time">{formatPointTime(v.timeUs)}</span>
                <span className={`version-change change-${v.change}`}>{changeWords[v.change]}</span>
                <span className="muted">{v.change === 'removed' ? '' : formatBytes(v.size)}</span>
              </button>
            </li>
          ))}
        </ol>
      )}
    </aside>
  );
}
