/**
 * Every job the service knows, newest first, with progress and Cancel for the running ones;
 * an interrupted restore offers Resume and Discard, each after a confirmation (one writes
 * to a disk, the other leaves it partly written for good).
 */
import { formatPointTime } from '../format/local-time.js';
import { isRunning, jobById, useJobsStore, type InterruptedAction } from '../stores/jobs-store.js';
import { Dialog } from './Dialog.js';
import { JobProgress } from './JobProgress.js';

export function JobsPanel() {
  const open = useJobsStore((s) => s.open);
  const jobs = useJobsStore((s) => s.jobs);
  const cancel = useJobsStore((s) => s.cancel);
  const toggle = useJobsStore((s) => s.toggle);
  const ask = useJobsStore((s) => s.ask);
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
                <>
                  <button type="button" className="button button-small" onClick={() => ask(j.id, 'resume')}>
                    Resume…
                  </button>
                  <button type="button" className="button button-small" onClick={() => ask(j.id, 'discard')}>
                    Discard…
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      <ConfirmInterruptedDialog />
    </section>
  );
}

const confirmations: Record<InterruptedAction, { title: string; consequence: string; button: string }> = {
  resume: {
    title: 'Resume the interrupted restore?',
    consequence: 'Resuming writes the rest of it and verifies the whole disk; what is on the target now is replaced.',
    button: 'Resume restore',
  },
  discard: {
    title: 'Discard the interrupted restore?',
    consequence: 'Chronodisk forgets it and writes nothing more: the target keeps what was written so far, neither what it held before nor the point. You can start a new restore later.',
    button: 'Discard restore',
  },
};

function ConfirmInterruptedDialog() {
  const jobs = useJobsStore((s) => s.jobs);
  const confirming = useJobsStore((s) => s.confirming);
  const dismiss = useJobsStore((s) => s.dismiss);
  const confirm = useJobsStore((s) => s.confirm);
  const job = jobById(jobs, confirming?.id);
  if (!job || !confirming) return null;
  const text = confirmations[confirming.action];
  const actions = (
    <>
      <button type="button" className="button" onClick={dismiss}>
        Not now
      </button>
      <button type="button" className="button button-danger" onClick={() => void confirm()}>
        {text.button}
      </button>
    </>
  );
  return (
    <Dialog title={text.title} onClose={dismiss} actions={actions}>
      <p>{job.title}.</p>
      <p>{job.result}</p>
      <p>{text.consequence}</p>
    </Dialog>
  );
}
