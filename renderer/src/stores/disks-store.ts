/** The protected disks in the sidebar, which one is selected, and each one's capture status (live). */
import { create } from 'zustand';
import type { DiskSummary, EventOf, Point } from '../../../shared/contract.js';
import { call } from './service-call.js';
import { useToastStore } from './toast-store.js';

interface DisksState {
  disks: DiskSummary[];
  loaded: boolean;
  selected: string | undefined;
  load(): Promise<void>;
  select(name: string): void;
  /** Asks for a scan pass now (a job; the point arrives as pointCommitted). */
  captureNow(name: string): Promise<void>;
  applyCaptureStatus(e: EventOf<'captureStatus'>): void;
  applyPoint(p: Point): void;
}

export const useDisksStore = create<DisksState>((set, get) => ({
  disks: [],
  loaded: false,
  selected: undefined,
  async load() {
    const disks = await call('listDisks', {});
    if (!disks) return;
    const keep = get().selected;
    set({ disks, loaded: true, selected: keep !== undefined && disks.some((d) => d.name === keep) ? keep : disks[0]?.name });
  },
  select(name) {
    set({ selected: name });
  },
  async captureNow(name) {
    if ((await call('captureNow', { disk: name })) !== undefined) useToastStore.getState().push(`Capturing ${name}…`, 'info');
  },
  applyCaptureStatus(e) {
    set((s) => ({
      disks: s.disks.map((d) => (d.name === e.disk ? { ...d, state: e.state, message: e.message } : d)),
    }));
  },
  applyPoint(p) {
    set((s) => ({
      disks: s.disks.map((d) =>
        d.name === p.disk && (d.latestSeq === undefined || p.seq > d.latestSeq)
          ? { ...d, points: d.points + 1, latestSeq: p.seq, latestUs: p.timeUs, firstUs: d.firstUs ?? p.timeUs }
          : d,
      ),
    }));
  },
}));

/** True before a disk's first point: there is nothing to list or restore yet. */
export function hasNoPoints(d: DiskSummary): boolean {
  return d.points === 0 && d.latestUs === undefined;
}

export function selectedDisk(s: Pick<DisksState, 'disks' | 'selected'>): DiskSummary | undefined {
  return s.disks.find((d) => d.name === s.selected);
}
