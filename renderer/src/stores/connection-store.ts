/** The link to the service: the ContractApi, whether the service answers through it, and why not. */
import { create } from 'zustand';
import type { ContractApi } from '../../../shared/contract-client.js';
import { connectToService, type Connection, type LinkState as Link } from '../bridge/connect.js';
import { useToastStore } from './toast-store.js';

export type LinkState = 'connecting' | 'connected' | 'disconnected';

interface ConnectionState {
  state: LinkState;
  /** Set while the service answers (and, in the desktop app, while it does not: the bridge stays). */
  api: ContractApi | undefined;
  /** Why the window is not connected (one line). */
  reason: string | undefined;
  /** Bumped on every new connection, so areas reload what they show. */
  generation: number;
  canStartService: boolean;
  connect(): Promise<void>;
  startService(): Promise<void>;
}

const RETRY_MS = 3000;
let retry: ReturnType<typeof setTimeout> | undefined;
let current: Connection | undefined;

export const useConnectionStore = create<ConnectionState>((set, get) => {
  const follow = (c: Connection) => (link: Link) => {
    if (current !== c) return;
    if (link.connected) {
      if (get().state !== 'connected') set((s) => ({ state: 'connected', reason: undefined, generation: s.generation + 1 }));
      return;
    }
    // A WebSocket that closed is gone: make a new one. The desktop app's bridge reconnects by itself.
    set({ state: 'disconnected', reason: link.reason, ...(c.canStartService ? {} : { api: undefined }) });
    if (!c.canStartService) retry = setTimeout(() => void get().connect(), RETRY_MS);
  };

  return {
    state: 'connecting',
    api: undefined,
    reason: undefined,
    generation: 0,
    canStartService: false,
    async connect() {
      clearTimeout(retry);
      if (get().state === 'connected') return;
      set({ state: 'connecting' });
      try {
        const c = await connectToService();
        current = c;
        c.onState(follow(c));
        set((s) => ({ state: 'connected', api: c.api, reason: undefined, canStartService: c.canStartService, generation: s.generation + 1 }));
      } catch (e) {
        set({ state: 'disconnected', api: undefined, reason: (e as Error).message });
        // A missing token will not appear by waiting; a service that is starting may.
        if (!/no token/.test((e as Error).message)) retry = setTimeout(() => void get().connect(), RETRY_MS);
      }
    },
    async startService() {
      const api = get().api;
      if (!api) return;
      try {
        const r = await api.request('startService', {});
        useToastStore.getState().push(r.message, 'info');
      } catch (e) {
        useToastStore.getState().push((e as Error).message);
      }
    },
  };
});
