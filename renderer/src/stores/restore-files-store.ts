/**
 * Restoring selected files: where to (a destination the service offers), whether to
 * replace files already there (asked only when there are some), then the job.
 */
import { create } from 'zustand';
import type { RestoreDestination } from '../../../shared/contract.js';
import { attempt, call } from './service-call.js';
import { useJobsStore } from './jobs-store.js';

export type RestoreFilesStep = 'choose' | 'overwrite' | 'running';

interface RestoreFilesState {
  open: boolean;
  step: RestoreFilesStep;
  /** DISK or DISK:N, the point's sequence number and the paths inside it. */
  address: string;
  at: string;
  /** When that point was (for the dialog's words). */
  timeUs: number;
  paths: string[];
  destinations: RestoreDestination[] | undefined;
  destination: string | undefined;
  /** The service's words about what would be replaced. */
  conflict: string | undefined;
  /** Why the last attempt failed (one line, shown in the dialog). */
  problem: string | undefined;
  jobId: string | undefined;
  busy: boolean;
  begin(address: string, point: { seq: number; timeUs: number }, paths: string[]): Promise<void>;
  choose(id: string): void;
  start(overwrite: boolean): Promise<void>;
  close(): void;
}

export const useRestoreFilesStore = create<RestoreFilesState>((set, get) => ({
  open: false,
  step: 'choose',
  address: '',
  at: 'now',
  timeUs: 0,
  paths: [],
  destinations: undefined,
  destination: undefined,
  conflict: undefined,
  problem: undefined,
  jobId: undefined,
  busy: false,

  async begin(address, point, paths) {
    set({ open: true, step: 'choose', address, at: String(point.seq), timeUs: point.timeUs, paths, destinations: undefined, destination: undefined, conflict: undefined, problem: undefined, jobId: undefined });
    const d = await call('listRestoreDestinations', { disk: address });
    if (get().address !== address) return;
    set({ destinations: d ?? [], destination: d?.[0]?.id });
  },

  choose(id) {
    set({ destination: id });
  },

  async start(overwrite) {
    const { address, at, paths, destination } = get();
    if (!destination || get().busy) return;
    set({ busy: true, problem: undefined });
    const r = await attempt('restoreFiles', { disk: address, at, paths, destination, overwrite });
    set({ busy: false });
    if (r.ok) {
      useJobsStore.getState().upsert(r.value);
      set({ step: 'running', jobId: r.value.id, conflict: undefined });
    } else if (r.code === 'exists' && !overwrite) {
      set({ step: 'overwrite', conflict: r.message });
    } else {
      set({ step: 'choose', conflict: undefined, problem: r.message });
    }
  },

  close() {
    set({ open: false });
  },
}));
