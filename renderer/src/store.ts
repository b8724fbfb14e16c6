import { create } from 'zustand';
import type { Disk } from '../../shared/contract.js';

/** UI state lives here, outside components (GitHub Desktop's rule). */
export interface AppState {
  disks: Disk[];
  selectedDisk: string | undefined;
  error: string | undefined;
  setDisks(disks: Disk[]): void;
  selectDisk(name: string): void;
  setError(message: string | undefined): void;
}

export const useAppStore = create<AppState>((set) => ({
  disks: [],
  selectedDisk: undefined,
  error: undefined,
  setDisks: (disks) => set((s) => ({ disks, selectedDisk: s.selectedDisk ?? disks[0]?.name })),
  selectDisk: (name) => set({ selectedDisk: name }),
  setError: (error) => set({ error }),
}));
