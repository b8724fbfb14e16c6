/** The appliance's status for the status bar (space, writer, paused), and pause/resume of capture. */
import { create } from 'zustand';
import type { Status } from '../../../shared/contract.js';
import { call } from './service-call.js';

interface StatusState {
  status: Status | undefined;
  busy: boolean;
  load(): Promise<void>;
  setPaused(paused: boolean): Promise<void>;
}

export const useStatusStore = create<StatusState>((set, get) => ({
  status: undefined,
  busy: false,
  async load() {
    const s = await call('status', {});
    if (s) set({ status: s });
  },
  async setPaused(paused) {
    if (get().busy) return;
    set({ busy: true });
    await call(paused ? 'pauseCapture' : 'resumeCapture', {});
    await get().load();
    set({ busy: false });
  },
}));
