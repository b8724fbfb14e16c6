/** The link to the service: the ContractApi once connected, or why there is none. */
import { create } from 'zustand';
import type { ContractApi } from '../../../shared/contract-client.js';
import { connectToService, type Connection } from '../bridge/connect.js';

export type LinkState = 'connecting' | 'connected' | 'disconnected';

interface ConnectionState {
  state: LinkState;
  api: ContractApi | undefined;
  /** Why the window is not connected (one line). */
  reason: string | undefined;
  /** Bumped on every new connection, so areas reload what they show. */
  generation: number;
  connect(): Promise<void>;
}

const RETRY_MS = 3000;
let retry: ReturnType<typeof setTimeout> | undefined;
let current: Connection | undefined;

export const useConnectionStore = create<ConnectionState>((set, get) => ({
  state: 'connecting',
  api: undefined,
  reason: undefined,
  generation: 0,
  async connect() {
    clearTimeout(retry);
    if (get().state === 'connected') return;
    set({ state: 'connecting' });
    try {
      const c = await connectToService();
      current = c;
      c.onClosed((reason) => {
        if (current !== c) return;
        set({ state: 'disconnected', api: undefined, reason });
        retry = setTimeout(() => void get().connect(), RETRY_MS);
      });
      set((s) => ({ state: 'connected', api: c.api, reason: undefined, generation: s.generation + 1 }));
    } catch (e) {
      set({ state: 'disconnected', api: undefined, reason: (e as Error).message });
      // A missing token will not appear by waiting; a service that is starting may.
      if (!/no token/.test((e as Error).message)) retry = setTimeout(() => void get().connect(), RETRY_MS);
    }
  },
}));
