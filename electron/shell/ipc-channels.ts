/**
 * The two Electron IPC channels between preload and main. Every contract request goes
 * over one invoke channel and every event over one send channel, each carrying the
 * contract's own channel name: the table in shared/contract.ts stays the only list.
 * preload.cts repeats these two strings (a sandboxed preload can require only
 * 'electron'); test/shell/bridge.test.ts runs both ends together.
 */
import type { ErrorInfo } from '../../shared/errors.js';
import type { EventChannel } from '../../shared/contract.js';

/** ipcRenderer.invoke(REQUEST_IPC, channel, payload) → BridgeReply */
export const REQUEST_IPC = 'chronodisk:request';
/** webContents.send(EVENT_IPC, { channel, payload }) */
export const EVENT_IPC = 'chronodisk:event';

/** What main answers an invoke with; preload resolves with payload or rejects with error. */
export type BridgeReply = { ok: true; payload: unknown } | { ok: false; error: ErrorInfo };

export interface BridgeEvent {
  channel: EventChannel;
  payload: unknown;
}
