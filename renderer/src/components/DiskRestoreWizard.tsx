/**
 * Restore a whole disk: 1 the point (from the slider), 2 the target, 3 a confirmation that
 * needs the disk's name typed, 4 progress, then the result line or the error.
 */
import { useId } from 'react';
import { formatPointTime } from '../format/local-time.js';
import { confirms, useDiskRestoreStore, type WizardStep } from '../stores/disk-restore-store.js';
import { isRunning, jobById, useJobsStore } from '../stores/jobs-store.js';
import { Dialog } from './Dialog.js';
import { JobProgress } from './JobProgress.js';
import { RestoreTargetList } from './RestoreTargetList.js';

const steps: Array<{ step: WizardStep; name: string }> = [
  { step: 'point', name: 'Point' },
  { step: 'target', name: 'Target' },
  { step: 'confirm', name: 'Confirm' },
  { step: 'progress', name: 'Restore' },
];

function StepList({ current }: { current: WizardStep }) {
  const at = steps.findIndex((s) => s.step === current);
  return (
    <ol className="wizard-steps" aria-label="Steps">
      {steps.map((s, i) => (
        <li key={s.step} className={i === at ? 'wizard-step-current' : i < at ? 'wizard-step-done' : ''} aria-current={i === at ? 'step' : undefined}>
          {s.name}
        </li>
      ))}
    </ol>
  );
}

function ConfirmStep() {
  const disk = useDiskRestoreStore((s) => s.disk);
  const point = useDiskRestoreStore((s) => s.point);
  const typed = useDiskRestoreStore((s) => s.typed);
  const type = useDiskRestoreStore((s) => s.type);
  const t = useDiskRestoreStore((s) => s.targets?.find((x) => x.device === s.target));
  const id = useId();
  if (!t || !point) return null;
  return (
    <div className="wizard-confirm">
      <p className="form-warning">
        {t.inPlace
          ? `${disk} will be rolled back to ${formatPointTime(point.timeUs)}: every block written since then is put back as it was. Writes made after that point are lost from the disk (they stay in its history).`
          : `Everything on ${t.device} (${t.description}) will be replaced by ${disk} as it was at ${formatPointTime(point.timeUs)}.`}
      </p>
      <div className="form-row">
        <label htmlFor={id}>
          Type <strong>{disk}</strong> to confirm
        </label>
        <input id={id} value={typed} autoComplete="off" spellCheck={false} onChange={(e) => type(e.target.value)} />
      </div>
    </div>
  );
}

export function DiskRestoreWizard() {
  const s = useDiskRestoreStore();
  const job = useJobsStore((j) => jobById(j.jobs, s.jobId));
  const cancel = useJobsStore((j) => j.cancel);
  if (!s.open || !s.point) return null;
  const chosen = s.targets?.find((t) => t.device === s.target);
  const back = (step: WizardStep) => (
    <button type="button" className="button" onClick={() => void s.goTo(step)}>
      Back
    </button>
  );
  let body;
  let actions;
  switch (s.step) {
    case 'point':
      body = (
        <p>
          Restore <strong>{s.disk}</strong> as it was at <strong>{formatPointTime(s.point.timeUs)}</strong> <span className="muted">(point {s.point.seq})</span>. To choose another point, close this and move the timeline.
        </p>
      );
      actions = (
        <button type="button" className="button button-primary" onClick={() => void s.goTo('target')}>
          Next
        </button>
      );
      break;
    case 'target':
      body = <RestoreTargetList />;
      actions = (
        <>
          {back('point')}
          <button type="button" className="button button-primary" disabled={!chosen?.usable} onClick={() => void s.goTo('confirm')}>
            Next
          </button>
        </>
      );
      break;
    case 'confirm':
      body = <ConfirmStep />;
      actions = (
        <>
          {back('target')}
          <button type="button" className="button button-danger" disabled={!confirms(s.typed, s.disk) || s.busy} onClick={() => void s.start()}>
            {chosen?.inPlace ? 'Roll back disk' : 'Restore disk'}
          </button>
        </>
      );
      break;
    case 'progress':
      body = job ? <JobProgress job={job} /> : <p className="muted">Starting…</p>;
      actions =
        job && isRunning(job) ? (
          <button type="button" className="button" onClick={() => void cancel(job.id)}>
            Cancel restore
          </button>
        ) : (
          <button type="button" className="button button-primary" onClick={s.close}>
            Close
          </button>
        );
      break;
  }
  return (
    <Dialog title={`Restore disk ${s.disk}`} onClose={s.close} actions={actions} wide>
      <StepList current={s.step} />
      {body}
      {s.problem && (
        <p className="form-problem" role="alert">
          {s.problem}
        </p>
      )}
    </Dialog>
  );
}
