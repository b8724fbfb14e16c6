/** Every job the service knows, newest first, with progress and Cancel for the running ones. */
import { formatPointTime } from '../format/local-time.js';
import { isRunning, useJobsStore } from '../stores/jobs-store.js';
import { JobProgress } from './JobProgress.js';

export function JobsPanel() {
  const open = useJobsStore((s) => s.open);
  const jobs = useJobsStore((s) => s.jobs);
  const cancel = useJobsStore((s) => s.cancel);
  const toggle = useJobsStore((s) => s.toggle);
  if (!open) return null;
  return (
    <section className="jobs-panel" aria-label="Jobs">
      <header className="jobs-header">
        <h2>Jobs</h2>
        <button type="button" className="icon-button" aria-label="Close jobs" onClick={() => toggle(false)}>
          ×
        </button>
      </header>
      {jobs.length === 0 ? (
        <p className="muted">No jobs yet.</p>
      ) : (
        <ul className="job-list">
          {jobs.map((j) => (
            <li key={j.id} aria-label={j.title}>
              <div className="job-title">
                <span>{j.title}</span>
                <span className="muted">{formatPointTime(j.startedUs)}</span>
              </div>
              <JobProgress job={j} />
              {isRunning(j) && (
                <button type="button" className="button button-small" onClick={() => void cancel(j.id)}>
                  Cancel
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
