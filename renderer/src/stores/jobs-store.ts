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
  toggle(open?: boolean): void;
}

export const finishedPhases: ReadonlySet<Job['phase']> = new Set(['done', 'failed', 'cancelled']);

export function isRunning(job: Job): boolean {
  return !finishedPhases.has(job.phase);
}

const newestFirst = (a: Job, b: Job) => b.startedUs - a.startedUs || (a.id < b.id ? 1 : -1);

export const useJobsStore = create<JobsState>((set) => ({
  jobs: [],
  open: false,
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
  toggle(open) {
    set((s) => ({ open: open ?? !s.open }));
  },
}));

export function jobById(jobs: readonly Job[], id: string | undefined): Job | undefined {
  return id === undefined ? undefined : jobs.find((j) => j.id === id);
}
