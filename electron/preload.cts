/**
 * The window's only way out: `window.chronodisk`, exactly shared/contract-client.ts's
 * ContractApi — { request(channel, payload): Promise<response>, on(channel, listener):
 * unsubscribe } — over Electron IPC to the main process, which checks every message and
 * forwards it to the service (electron/shell/ipc-bridge.ts).
 *
 * A sandboxed preload is a plain script that may require only 'electron' (no ES module,
 * none of our files), hence CommonJS (.cts → dist/electron/preload.cjs) and the two IPC
 * channel names repeated from shell/ipc-channels.ts. test/shell/bridge.test.ts runs the
 * built file the way the sandbox does, beside main's bridge.
 *
 * A request rejects with a plain { name: 'ServiceError', code, message } object: an Error
 * crossing the context bridge keeps only its message, and the code is what the window
 * acts on (shared/contract-client.ts errorCodeOf reads it).
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { ContractApi } from '../shared/contract-client.js';

const REQUEST_IPC = 'chronodisk:request';
const EVENT_IPC = 'chronodisk:event';

type Listener = (payload: unknown) => void;
type Reply = { ok: true; payload: unknown } | { ok: false; error: { code: string; message: string; remedy?: string } };

const listeners = new Map<string, Set<Listener>>();
/** The last connection state main sent: a window that subscribes late still learns it. */
let connection: { payload: unknown } | undefined;

ipcRenderer.on(EVENT_IPC, (_event, message: { channel?: unknown; payload?: unknown } | undefined) => {
  if (!message || typeof message.channel !== 'string') return;
  if (message.channel === 'serviceConnection') connection = { payload: message.payload };
  for (const listener of [...(listeners.get(message.channel) ?? [])]) deliver(listener, message.payload);
});

function deliver(listener: Listener, payload: unknown): void {
  try {
    listener(payload);
  } catch (e) {
    console.error('chronodisk: an event listener threw', e);
  }
}

const api = {
  async request(channel: string, payload: unknown): Promise<unknown> {
    const reply = (await ipcRenderer.invoke(REQUEST_IPC, channel, payload)) as Reply;
    if (reply.ok) return reply.payload;
    throw { name: 'ServiceError', code: reply.error.code, message: reply.error.message, remedy: reply.error.remedy };
  },

  on(channel: string, listener: Listener): () => void {
    if (typeof channel !== 'string' || typeof listener !== 'function') throw new TypeError('chronodisk.on(channel, listener) takes a channel name and a function');
    let set = listeners.get(channel);
    if (!set) listeners.set(channel, (set = new Set()));
    set.add(listener);
    const last = connection;
    if (channel === 'serviceConnection' && last) queueMicrotask(() => set.has(listener) && deliver(listener, last.payload));
    return () => void set.delete(listener);
  },
} satisfies Record<keyof ContractApi, unknown>;

contextBridge.exposeInMainWorld('chronodisk', api);
