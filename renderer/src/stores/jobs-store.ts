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
  /** The interrupted restore, and what to do with it, that waits for the person's confirmation. */
  confirming: { id: string; action: InterruptedAction } | undefined;
  ask(id: string, action: InterruptedAction): void;
  dismiss(): void;
  /**
   * Does the confirmed action: a resume starts a new job (it arrives by jobProgress), a
   * discard forgets the restore. The list is loaded again either way.
   */
  confirm(): Promise<void>;
  toggle(open?: boolean): void;
  /** Starts verifying every checksum of the appliance and shows the jobs list, where it runs. */
  verifyAppliance(): Promise<void>;
  /** Starts building the index again from the segments and shows the jobs list. */
  rebuildIndex(): Promise<void>;
}

/** What the window offers for an interrupted restore; both write or give up on a disk, so both are confirmed first. */
export type InterruptedAction = 'resume' | 'discard';

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
  ask(id, action) {
    set({ confirming: { id, action } });
  },
  dismiss() {
    set({ confirming: undefined });
  },
  async confirm() {
    const c = get().confirming;
    if (c === undefined) return;
    set({ confirming: undefined });
    // The interrupted entry is gone (replaced by the new job, or forgotten): list again.
    const done = c.action === 'resume' ? await call('resumeJob', { id: c.id, confirm: true }) : await call('discardJob', { id: c.id, confirm: true });
    if (done) await get().load();
  },
  async verifyAppliance() {
    if (await call('checkAppliance', { readData: true })) get().toggle(true);
  },
  async rebuildIndex() {
    if (await call('rebuildIndex', {})) get().toggle(true);
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
