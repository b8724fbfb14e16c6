/** Above the listing: what is shown (disk, point), the volume, and the actions on the selection. */
import { formatPointTime } from '../format/local-time.js';
import { joinPath } from '../model/inner-path.js';
import { useBrowserStore } from '../stores/browser-store.js';
import { selectedDisk, useDisksStore } from '../stores/disks-store.js';
import { useDiskRestoreStore } from '../stores/disk-restore-store.js';
import { useRestoreFilesStore } from '../stores/restore-files-store.js';
import { useTimelineStore } from '../stores/timeline-store.js';
import { useVersionsStore } from '../stores/versions-store.js';
import { VolumePicker } from './VolumePicker.js';

export function BrowserToolbar({ disk }: { disk: string }) {
  const volume = useBrowserStore((s) => s.volume);
  const path = useBrowserStore((s) => s.path);
  const point = useBrowserStore((s) => s.point);
  const entries = useBrowserStore((s) => s.entries);
  const selected = useBrowserStore((s) => s.selection.selected);
  const viewing = useTimelineStore((s) => s.viewing);
  const shown = useTimelineStore((s) => s.shown);
  const goNow = useTimelineStore((s) => s.goNow);
  const beginRestore = useRestoreFilesStore((s) => s.begin);
  const beginDisk = useDiskRestoreStore((s) => s.begin);
  const showVersions = useVersionsStore((s) => s.show);
  const captureNow = useDisksStore((s) => s.captureNow);
  const splitMode = useDisksStore((s) => selectedDisk(s)?.mode === 'split');
  const single = selected.length === 1 ? entries.find((e) => e.name === selected[0]) : undefined;
  const restorePoint = point ?? shown;
  return (
    <div className="toolbar">
      <div className="toolbar-title">
        <h1>{disk}</h1>
        <p className="toolbar-when" aria-live="polite">
          {viewing.now ? (
            <>
              <span className="now-dot" aria-hidden="true" />
              Now{point ? ` · latest point ${formatPointTime(point.timeUs)}` : ''}
            </>
          ) : (
            <>
              As it was at <strong>{formatPointTime(viewing.point.timeUs)}</strong>
              <button type="button" className="link-button" onClick={goNow}>
                Back to now
              </button>
            </>
          )}
        </p>
      </div>
      <VolumePicker />
      <div className="toolbar-actions">
        <button
          type="button"
          className="button"
          disabled={!single || single.type === 'dir' || !volume}
          onClick={() => single && volume && void showVersions(volume, joinPath(path, single.name))}
        >
          Versions
        </button>
        <button
          type="button"
          className="button button-primary"
          disabled={selected.length === 0 || !volume || !restorePoint}
          onClick={() => volume && restorePoint && void beginRestore(volume, restorePoint, selected.map((n) => joinPath(path, n)))}
        >
          Restore…
        </button>
        <button type="button" className="button" disabled={!shown} onClick={() => shown && beginDisk(disk, shown)}>
          Restore disk…
        </button>
        {!splitMode && (
          <button type="button" className="button" title="Scan the disk now and make a point" onClick={() => void captureNow(disk)}>
            Capture now
          </button>
        )}
      </div>
    </div>
  );
}
