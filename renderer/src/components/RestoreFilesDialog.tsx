/** Restore the selected files: choose a destination the service offers; replace existing files only after asking. */
import { formatPointTime } from '../format/local-time.js';
import { baseName } from '../model/inner-path.js';
import { isRunning, jobById, useJobsStore } from '../stores/jobs-store.js';
import { useRestoreFilesStore } from '../stores/restore-files-store.js';
import { Dialog } from './Dialog.js';
import { JobProgress } from './JobProgress.js';

function Destinations() {
  const destinations = useRestoreFilesStore((s) => s.destinations);
  const destination = useRestoreFilesStore((s) => s.destination);
  const choose = useRestoreFilesStore((s) => s.choose);
  if (destinations === undefined) return <p className="muted">Asking where files may go…</p>;
  if (destinations.length === 0) return <p className="form-problem">The service offers no destination: add a restore folder in Settings.</p>;
  return (
    <fieldset className="choice-list">
      <legend>Restore to</legend>
      {destinations.map((d) => (
        <label key={d.id} className="choice">
          <input type="radio" name="destination" value={d.id} checked={destination === d.id} onChange={() => choose(d.id)} />
          <span className="choice-text">
            <span className="choice-title">{d.label}</span>
            <span className="choice-sub">{d.kind === 'original' ? `${d.path} (where the files came from, on the live disk)` : d.path}</span>
          </span>
        </label>
      ))}
    </fieldset>
  );
}

export function RestoreFilesDialog() {
  const s = useRestoreFilesStore();
  const job = useJobsStore((j) => jobById(j.jobs, s.jobId));
  if (!s.open) return null;
  const what = s.paths.length === 1 ? baseName(s.paths[0]!) : `${s.paths.length} items`;
  const conflictJob = job?.phase === 'failed' && job.error?.code === 'exists';
  const asking = s.step === 'overwrite' || conflictJob;
  let actions;
  if (asking) {
    actions = (
      <>
        <button type="button" className="button" onClick={s.close}>
          Cancel
        </button>
        <button type="button" className="button button-danger" disabled={s.busy} onClick={() => void s.start(true)}>
          Replace
        </button>
      </>
    );
  } else if (s.step === 'running') {
    actions = (
      <button type="button" className="button" onClick={s.close}>
        {job && isRunning(job) ? 'Hide' : 'Close'}
      </button>
    );
  } else {
    actions = (
      <>
        <button type="button" className="button" onClick={s.close}>
          Cancel
        </button>
        <button type="button" className="button button-primary" disabled={!s.destination || s.busy} onClick={() => void s.start(false)}>
          Restore
        </button>
      </>
    );
  }
  return (
    <Dialog title={`Restore ${what}`} onClose={s.close} actions={actions}>
      <p>
        {s.paths.length === 1 ? s.paths[0] : s.paths.join(', ')} <span className="muted">as {s.paths.length === 1 ? 'it was' : 'they were'} at {formatPointTime(s.timeUs)}</span>
      </p>
      {s.step === 'choose' && <Destinations />}
      {asking && (
        <div className="form-warning" role="alert">
          <p className="warning-line">Some of these are already at the destination. Replace them with the versions from {formatPointTime(s.timeUs)}?</p>
          <p className="warning-detail">{s.conflict ?? job?.error?.message}</p>
        </div>
      )}
      {s.step === 'running' && job && !conflictJob && <JobProgress job={job} />}
      {s.problem && (
        <p className="form-problem" role="alert">
          {s.problem}
        </p>
      )}
    </Dialog>
  );
}
