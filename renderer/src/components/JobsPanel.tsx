/**
 * Every job the service knows, newest first, with progress and Cancel for the running ones;
 * an interrupted restore offers Resume, after a confirmation (it writes to a disk).
 */
import { formatPointTime } from '../format/local-time.js';
import { isRunning, jobById, useJobsStore } from '../stores/jobs-store.js';
import { Dialog } from './Dialog.js';
import { JobProgress } from './JobProgress.js';

export function JobsPanel() {
  const open = useJobsStore((s) => s.open);
  const jobs = useJobsStore((s) => s.jobs);
  const cancel = useJobsStore((s) => s.cancel);
  const toggle = useJobsStore((s) => s.toggle);
  const askResume = useJobsStore((s) => s.askResume);
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
              {j.phase === 'interrupted' && (
                <button type="button" className="button button-small" onClick={() => askResume(j.id)}>
                  Resume…
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <ResumeDialog />
    </section>
  );
}

function ResumeDialog() {
  const jobs = useJobsStore((s) => s.jobs);
  const id = useJobsStore((s) => s.confirming);
  const askResume = useJobsStore((s) => s.askResume);
  const resume = useJobsStore((s) => s.resume);
  const job = jobById(jobs, id);
  if (!job) return null;
  const close = () => askResume(undefined);
  const actions = (
    <>
      <button type="button" className="button" onClick={close}>
        Not now
      </button>
      <button type="button" className="button button-danger" onClick={() => void resume()}>
        Resume restore
      </button>
    </>
  );
  return (
    <Dialog title="Resume the interrupted restore?" onClose={close} actions={actions}>
      <p>{job.title}.</p>
      <p>{job.result}</p>
      <p>Resuming writes the rest of it and verifies the whole disk; what is on the target now is replaced.</p>
    </Dialog>
  );
}
