/**
 * How the areas follow each other and the service, in one place: a new connection loads
 * everything and subscribes to events; the selected disk loads its timeline and listing;
 * the shown point re-lists the browser. Components only read stores and call actions.
 */
import type { ContractApi } from '../../../shared/contract-client.js';
import { useBrowserStore } from './browser-store.js';
import { useConnectionStore } from './connection-store.js';
import { useDiskRestoreStore } from './disk-restore-store.js';
import { hasNoPoints, selectedDisk, useDisksStore } from './disks-store.js';
import { useJobsStore } from './jobs-store.js';
import { useRestoreFilesStore } from './restore-files-store.js';
import { useStatusStore } from './status-store.js';
import { useTimelineStore, viewingAt } from './timeline-store.js';
import { useVersionsStore } from './versions-store.js';
import { useToastStore } from './toast-store.js';

const STATUS_POLL_MS = 10_000;
const LIVE_REFRESH_MS = 5_000;

/** Loads the selected disk's timeline afresh, its span from the sidebar's summary. */
function reloadTimeline(): void {
  const d = selectedDisk(useDisksStore.getState());
  if (!d) return;
  const span = d.firstUs !== undefined && d.latestUs !== undefined ? { firstUs: d.firstUs, latestUs: d.latestUs } : undefined;
  void useTimelineStore.getState().load(d.name, span);
}

function subscribeEvents(api: ContractApi): Array<() => void> {
  let liveTimer: ReturnType<typeof setTimeout> | undefined;
  return [
    api.on('captureStatus', (e) => useDisksStore.getState().applyCaptureStatus(e)),
    api.on('disksChanged', () => void useDisksStore.getState().load()),
    api.on('bookmarksChanged', (e) => {
      if (e.disk === useTimelineStore.getState().disk) void useTimelineStore.getState().reloadBookmarks();
    }),
    api.on('jobProgress', (job) => {
      const before = useJobsStore.getState().jobs.find((j) => j.id === job.id);
      useJobsStore.getState().upsert(job);
      // A failure is a toast unless the dialog that started the job is open and says it there.
      const shownInDialog = [useRestoreFilesStore.getState(), useDiskRestoreStore.getState()].some((d) => d.open && d.jobId === job.id);
      if (job.phase === 'failed' && before?.phase !== 'failed' && job.error && !shownInDialog) useToastStore.getState().push(`${job.title}: ${job.error.message}`, 'error', job.error.remedy);
      // Thinning removes points: what the timeline holds may name some that are gone.
      if (job.kind === 'thin' && job.phase === 'done' && before?.phase !== 'done') void useDisksStore.getState().load().then(reloadTimeline);
    }),
    api.on('pointCommitted', (p) => {
      useDisksStore.getState().applyPoint(p);
      const t = useTimelineStore.getState();
      const hadNoSpan = t.span === undefined;
      t.applyPoint(p);
      if (p.disk !== t.disk) return;
      if (hadNoSpan) void useBrowserStore.getState().open(p.disk, 'now');
      else if (t.viewing.now && !liveTimer) {
        // The present follows new points, re-listed at most every few seconds.
        liveTimer = setTimeout(() => {
          liveTimer = undefined;
          if (useTimelineStore.getState().viewing.now) void useBrowserStore.getState().refresh();
        }, LIVE_REFRESH_MS);
      }
    }),
    () => clearTimeout(liveTimer),
  ];
}

/** Starts the links; returns the function that stops them (for tests and hot reload). */
export function linkStores(): () => void {
  let unsubscribeEvents: Array<() => void> = [];
  let poll: ReturnType<typeof setInterval> | undefined;

  const onConnection = (api: ContractApi | undefined) => {
    for (const u of unsubscribeEvents) u();
    unsubscribeEvents = [];
    clearInterval(poll);
    if (!api) return;
    unsubscribeEvents = subscribeEvents(api);
    // loaded → false, then true again: the selected disk reloads after a reconnect.
    useDisksStore.setState({ loaded: false });
    void useDisksStore.getState().load();
    void useStatusStore.getState().load();
    void useJobsStore.getState().load();
    poll = setInterval(() => void useStatusStore.getState().load(), STATUS_POLL_MS);
  };

  const onDisk = (name: string | undefined) => {
    useVersionsStore.getState().close();
    if (!name) {
      useBrowserStore.getState().clear();
      return;
    }
    reloadTimeline();
    // A disk with no points yet has nothing to list (asking would only fail, as a toast):
    // its first point opens the browser (pointCommitted).
    const d = selectedDisk(useDisksStore.getState());
    if (d && hasNoPoints(d)) useBrowserStore.getState().clear();
    else void useBrowserStore.getState().open(name, 'now');
  };

  const stops = [
    useConnectionStore.subscribe((s, prev) => {
      if (s.generation !== prev.generation || s.api !== prev.api) onConnection(s.api);
    }),
    useDisksStore.subscribe((s, prev) => {
      // A reconnect reloads the selected disk too (its timeline may have moved on).
      if (s.selected !== prev.selected || (s.loaded && !prev.loaded)) onDisk(s.selected);
    }),
    useTimelineStore.subscribe((s, prev) => {
      if (s.viewing === prev.viewing || !s.disk) return;
      if (s.viewing.now && prev.viewing.now) return;
      if (!s.viewing.now && !prev.viewing.now && s.viewing.point.seq === prev.viewing.point.seq) return;
      void useBrowserStore.getState().open(s.disk, viewingAt(s.viewing));
    }),
  ];
  onConnection(useConnectionStore.getState().api);
  return () => {
    for (const s of stops) s();
    onConnection(undefined);
  };
}
