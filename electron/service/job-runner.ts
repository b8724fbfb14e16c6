import { randomBytes } from 'node:crypto';
import type { Job, JobPhase } from '../../shared/contract.js';
import { ChronodiskError } from '../engine/errors.js';
import { errorInfoOf, oneLine } from './error-wire.js';
import type { EventHub } from './event-hub.js';

/** The phases work reports; queued and the three endings are the runner's. */
export type WorkPhase = Exclude<JobPhase, 'queued' | 'done' | 'failed' | 'cancelled'>;

/** What a job's work gets: where to report progress, and the signal a cancelJob aborts. */
export interface JobContext {
  signal: AbortSignal;
  /** Bytes done of the phase's total; speed and ETA are of the phase. */
  progress(phase: WorkPhase, done: number, total: number): void;
}

export interface JobSpec {
  kind: Job['kind'];
  title: string;
  disk?: string;
  /** Resources the job takes alone (a target device, "scan:home"); a second job naming one is refused. */
  claims?: string[];
  /** Does the work; resolves with the one-line result, or with it and what a program reads. */
  run(ctx: JobContext): Promise<string | JobOutcome>;
  /** The result line when cancelled (what was left, how to finish). */
  cancelled?: () => string;
}

/** A finished job's result line and, for programs, what it did (a scan, a disk restore, a thinning, an index rebuild). */
export type JobOutcome = { result: string } & Pick<Job, 'scan' | 'restore' | 'thin' | 'rebuild'>;

const EVENT_EVERY_MS = 200;
const KEEP_FINISHED = 100;

interface Running {
  job: Job;
  controller: AbortController;
  claims: string[];
  done: Promise<void>;
  phaseStart: number;
  lastEvent: number;
}

/**
 * Long work with progress: each job has an id, a phase, bytes done of the phase's total,
 * a speed and an ETA measured here (where the bytes move), a result line when done, and
 * can be cancelled. Every change goes out as a jobProgress event, at most every 200 ms
 * while a phase runs and at once when the phase changes or the job ends.
 */
export class JobRunner {
  private jobs = new Map<string, Running>();

  constructor(private readonly events: EventHub) {}

  /** Starts a job and returns it as it is now (queued). */
  start(spec: JobSpec): Job {
    const claims = spec.claims ?? [];
    for (const r of this.jobs.values()) {
      if (r.job.finishedUs !== undefined) continue;
      const clash = r.claims.find((c) => claims.includes(c));
      if (clash) throw new ChronodiskError('busy', `${r.job.title} (job ${r.job.id}) is already running on ${clash.replace(/^[a-z]+:/, '')}; wait for it or cancel it`);
    }
    const job: Job = {
      id: `job-${randomBytes(6).toString('hex')}`,
      kind: spec.kind,
      title: oneLine(spec.title),
      ...(spec.disk ? { disk: spec.disk } : {}),
      phase: 'queued',
      bytesDone: 0,
      bytesTotal: 0,
      bytesPerSecond: 0,
      startedUs: Date.now() * 1000,
    };
    const controller = new AbortController();
    const r: Running = { job, controller, claims, done: Promise.resolve(), phaseStart: performance.now(), lastEvent: 0 };
    this.jobs.set(job.id, r);
    this.forgetOld();
    this.publish(r);
    const ctx: JobContext = { signal: controller.signal, progress: (phase, done, total) => this.progress(r, phase, done, total) };
    // The work starts on the next turn, so the caller's response (this job, queued) goes out first.
    r.done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => spec.run(ctx))
      .then(
        (outcome) => this.finish(r, 'done', typeof outcome === 'string' ? { result: oneLine(outcome) } : { ...outcome, result: oneLine(outcome.result) }),
        (e: unknown) =>
          controller.signal.aborted
            ? this.finish(r, 'cancelled', { result: oneLine(spec.cancelled?.() ?? 'Cancelled.') })
            : this.finish(r, 'failed', { error: errorInfoOf(e), result: errorInfoOf(e).message }),
      );
    return { ...job };
  }

  /** The job as it ended (done, failed or cancelled). */
  async finished(id: string): Promise<Job> {
    const r = this.jobs.get(id);
    if (!r) throw new ChronodiskError('not-found', `no job ${id}; list them with listJobs`);
    await r.done;
    return { ...r.job };
  }

  list(): Job[] {
    return [...this.jobs.values()].map((r) => ({ ...r.job })).sort((a, b) => a.startedUs - b.startedUs);
  }

  /** Whether a job still running holds `claim` (e.g. "device:/dev/sdb"). */
  holds(claim: string): boolean {
    for (const r of this.jobs.values()) if (r.job.finishedUs === undefined && r.claims.includes(claim)) return true;
    return false;
  }

  /** Asks a running job to stop; a finished one is left as it is. */
  cancel(id: string): void {
    const r = this.jobs.get(id);
    if (!r) throw new ChronodiskError('not-found', `no job ${id}; list them with listJobs`);
    if (r.job.finishedUs === undefined) r.controller.abort(new ChronodiskError('refused', `${r.job.title}: cancelled`));
  }

  /** Cancels every running job and waits for all to end (the service is stopping). */
  async stopAll(): Promise<void> {
    for (const r of this.jobs.values()) if (r.job.finishedUs === undefined) r.controller.abort(new ChronodiskError('refused', 'the service is stopping'));
    await Promise.allSettled([...this.jobs.values()].map((r) => r.done));
  }

  private progress(r: Running, phase: WorkPhase, done: number, total: number): void {
    if (r.job.finishedUs !== undefined) return;
    const now = performance.now();
    const changed = phase !== r.job.phase;
    if (changed) r.phaseStart = now;
    const seconds = (now - r.phaseStart) / 1000;
    const rate = seconds > 0.05 ? done / seconds : 0;
    r.job.phase = phase;
    r.job.bytesDone = Math.max(0, Math.round(done));
    r.job.bytesTotal = Math.max(r.job.bytesDone, Math.round(total));
    r.job.bytesPerSecond = rate;
    if (rate > 0) r.job.etaSeconds = (r.job.bytesTotal - r.job.bytesDone) / rate;
    else delete r.job.etaSeconds;
    if (changed || done >= total || now - r.lastEvent >= EVENT_EVERY_MS) this.publish(r);
  }

  private finish(r: Running, phase: 'done' | 'failed' | 'cancelled', fields: Pick<Job, 'result' | 'error' | 'scan' | 'restore' | 'thin' | 'rebuild'>): void {
    r.job.phase = phase;
    r.job.finishedUs = Date.now() * 1000;
    delete r.job.etaSeconds;
    Object.assign(r.job, fields);
    if (phase === 'done') r.job.bytesDone = r.job.bytesTotal;
    this.publish(r);
  }

  private publish(r: Running): void {
    r.lastEvent = performance.now();
    this.events.emit('jobProgress', { ...r.job });
  }

  private forgetOld(): void {
    const finished = [...this.jobs.values()].filter((r) => r.job.finishedUs !== undefined);
    for (const r of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(r.job.id);
  }
}
