/**
 * The whole-disk restore wizard: the point (from the slider), the target (the disk itself,
 * a rollback of only what changed, or another disk; unusable ones listed with every
 * problem), a confirmation by typing the disk's name, then the job's progress.
 */
import { create } from 'zustand';
import type { RestoreTarget } from '../../../shared/contract.js';
import type { PointRef } from '../model/point-cache.js';
import { attempt, call } from './service-call.js';
import { useJobsStore } from './jobs-store.js';

export type WizardStep = 'point' | 'target' | 'confirm' | 'progress';

interface DiskRestoreState {
  open: boolean;
  step: WizardStep;
  disk: string;
  point: PointRef | undefined;
  targets: RestoreTarget[] | undefined;
  target: string | undefined;
  typed: string;
  jobId: string | undefined;
  problem: string | undefined;
  busy: boolean;
  begin(disk: string, point: PointRef): void;
  goTo(step: WizardStep): Promise<void>;
  chooseTarget(device: string): void;
  type(text: string): void;
  start(): Promise<void>;
  close(): void;
}

/** Whether the typed text confirms the disk (exact name; spaces around it forgiven). */
export function confirms(typed: string, disk: string): boolean {
  return typed.trim() === disk;
}

export const useDiskRestoreStore = create<DiskRestoreState>((set, get) => ({
  open: false,
  step: 'point',
  disk: '',
  point: undefined,
  targets: undefined,
  target: undefined,
  typed: '',
  jobId: undefined,
  problem: undefined,
  busy: false,

  begin(disk, point) {
    set({ open: true, step: 'point', disk, point, targets: undefined, target: undefined, typed: '', jobId: undefined, problem: undefined });
  },

  async goTo(step) {
    set({ step, problem: undefined });
    if (step === 'target' && get().targets === undefined) {
      const disk = get().disk;
      const t = await call('listRestoreTargets', { disk });
      if (get().disk !== disk) return;
      set({ targets: t ?? [], target: get().target ?? t?.find((x) => x.usable)?.device });
    }
  },

  chooseTarget(device) {
    const t = get().targets?.find((x) => x.device === device);
    if (t?.usable) set({ target: device });
  },

  type(text) {
    set({ typed: text });
  },

  async start() {
    const { disk, point, targets, target, typed, busy } = get();
    const chosen = targets?.find((t) => t.device === target);
    if (busy || !point || !chosen?.usable || !confirms(typed, disk)) return;
    set({ busy: true, problem: undefined });
    const r = await attempt('restoreDisk', { disk, at: String(point.seq), ...(chosen.inPlace ? {} : { to: chosen.device }), confirm: true });
    set({ busy: false });
    if (!r.ok) return set({ problem: r.message });
    useJobsStore.getState().upsert(r.value);
    set({ step: 'progress', jobId: r.value.id });
  },

  close() {
    set({ open: false });
  },
}));
