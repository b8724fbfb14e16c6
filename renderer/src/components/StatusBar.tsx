/** The bottom line: the appliance and its space, capture paused or running (with the switch), the jobs. */
import { formatBytes } from '../../../shared/units.js';
import { isRunning, useJobsStore } from '../stores/jobs-store.js';
import { useStatusStore } from '../stores/status-store.js';

export function StatusBar() {
  const status = useStatusStore((s) => s.status);
  const busy = useStatusStore((s) => s.busy);
  const setPaused = useStatusStore((s) => s.setPaused);
  const running = useJobsStore((s) => s.jobs.filter(isRunning).length);
  const toggleJobs = useJobsStore((s) => s.toggle);
  const jobsOpen = useJobsStore((s) => s.open);
  if (!status) return <footer className="status-bar" aria-label="Status" />;
  const { totalBytes, freeBytes, applianceBytes } = status.space;
  const usedPct = totalBytes > 0 ? Math.round(((totalBytes - freeBytes) / totalBytes) * 100) : 0;
  return (
    <footer className="status-bar" aria-label="Status">
      <span className="status-item" title={status.appliance}>
        Appliance <code>{status.appliance}</code>
      </span>
      <span className="status-item space">
        <span className="space-meter" aria-hidden="true">
          <span style={{ width: `${usedPct}%` }} />
        </span>
        {formatBytes(freeBytes)} free of {formatBytes(totalBytes)} · history {formatBytes(applianceBytes)}
      </span>
      {status.encrypted && <span className="status-item">Encrypted</span>}
      {!status.writer && <span className="status-item status-warn">Read-only: another process captures</span>}
      <span className="status-spacer" />
      {status.paused && <span className="status-item status-warn">Capture paused: {status.paused}</span>}
      {status.writer && (
        <button type="button" className="button button-small" disabled={busy} onClick={() => void setPaused(!status.paused)}>
          {status.paused ? 'Resume capture' : 'Pause capture'}
        </button>
      )}
      <button type="button" className="button button-small" aria-expanded={jobsOpen} onClick={() => toggleJobs()}>
        Jobs{running > 0 ? ` (${running} running)` : ''}
      </button>
      <span className="status-item muted">v{status.version}</span>
    </footer>
  );
}
