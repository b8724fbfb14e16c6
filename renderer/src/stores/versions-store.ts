/** The versions of one file: every point at which its content changed. */
import { create } from 'zustand';
import type { FileVersion } from '../../../shared/contract.js';
import { call } from './service-call.js';

interface VersionsState {
  address: string | undefined;
  path: string | undefined;
  versions: FileVersion[] | undefined;
  show(address: string, path: string): Promise<void>;
  close(): void;
}

export const useVersionsStore = create<VersionsState>((set, get) => ({
  address: undefined,
  path: undefined,
  versions: undefined,
  async show(address, path) {
    set({ address, path, versions: undefined });
    const v = await call('fileVersions', { disk: address, path, limit: 1000 });
    if (get().address === address && get().path === path) set({ versions: v ? [...v].reverse() : [] });
  },
  close() {
    set({ address: undefined, path: undefined, versions: undefined });
  },
}));
