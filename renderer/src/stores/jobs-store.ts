/** Long work the service runs (restores, scans, thinning, checks), kept current by jobProgress events. */
import { create } from 'zustand';
import type { Job } from '../../../shared/contract.js';
import { call } from './service-call.js';

interface JobsState {
  jobs: Job[];
  open: boolean;
  load(): Promise<void>;
  upsert(job: Job): void;
  cancel(id: string): Promise<void>;
  /** The interrupted restore whose resume waits for the person's confirmation. */
  confirming: string | undefined;
  askResume(id: string | undefined): void;
  /** Resumes the confirmed interrupted restore; the new job arrives by jobProgress. */
  resume(): Promise<void>;
  toggle(open?: boolean): void;
}

export const finishedPhases: ReadonlySet<Job['phase']> = new Set(['done', 'failed', 'cancelled', 'interrupted']);

export function isRunning(job: Job): boolean {
  return !finishedPhases.has(job.phase);
}

const newestFirst = (a: Job, b: Job) => b.startedUs - a.startedUs || (a.id < b.id ? 1 : -1);

export const useJobsStore = create<JobsState>((set, get) => ({
  jobs: [],
  open: false,
  confirming: undefined,
  async load() {
    const jobs = await call('listJobs', {});
    if (jobs) set({ jobs: [...jobs].sort(newestFirst) });
  },
  upsert(job) {
    set((s) => ({ jobs: [job, ...s.jobs.filter((j) => j.id !== job.id)].sort(newestFirst) }));
  },
  async cancel(id) {
    await call('cancelJob', { id });
  },
  askResume(id) {
    set({ confirming: id });
  },
  async resume() {
    const id = get().confirming;
    if (id === undefined) return;
    set({ confirming: undefined });
    // The interrupted entry is replaced by the new job: list again once it has started.
    if (await call('resumeJob', { id, confirm: true })) await get().load();
  },
  toggle(open) {
    const next = open ?? !get().open;
    set({ open: next });
    // Opening lists again: a restore interrupted elsewhere (a crash, the CLI) sends no event.
    if (next) void get().load();
  },
}));

export function jobById(jobs: readonly Job[], id: string | undefined): Job | undefined {
  return id === undefined ? undefined : jobs.find((j) => j.id === id);
}
