/** One job's progress: phase, a bar with its percent, speed and ETA; then its result line or its error. */
import type { Job } from '../../../shared/contract.js';
import { isRunning } from '../stores/jobs-store.js';
import { formatBytes } from '../../../shared/units.js';
import { formatSeconds } from '../../../shared/time.js';

const phaseWords: Record<Job['phase'], string> = {
  queued: 'Waiting',
  prepare: 'Preparing',
  read: 'Reading',
  write: 'Writing',
  verify: 'Verifying',
  commit: 'Finishing',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

export function percentOf(job: Job): number {
  if (job.phase === 'done') return 100;
  return job.bytesTotal > 0 ? Math.min(100, Math.floor((job.bytesDone / job.bytesTotal) * 100)) : 0;
}

export function JobProgress({ job }: { job: Job }) {
  const pct = percentOf(job);
  const running = isRunning(job);
  return (
    <div className={`job job-${job.phase}`}>
      <div className="job-line">
        <span className="job-phase">{phaseWords[job.phase]}</span>
        {running && (
          <span className="job-numbers">
            {pct}% · {formatBytes(job.bytesDone)} of {formatBytes(job.bytesTotal)}
            {job.bytesPerSecond > 0 && ` · ${formatBytes(job.bytesPerSecond)}/s`}
            {job.etaSeconds !== undefined && ` · ${formatSeconds(job.etaSeconds)} left`}
          </span>
        )}
      </div>
      <div className="progress" role="progressbar" aria-label={job.title} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      {job.result && <p className="job-result">{job.result}</p>}
      {job.error && (
        <p className="job-error" role="alert">
          {job.error.message}
        </p>
      )}
    </div>
  );
}
