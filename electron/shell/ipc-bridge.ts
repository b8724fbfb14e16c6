/**
 * The bridge between the window and the service, in the main process. Each request from
 * the renderer is checked before anything is forwarded: it must come from our window's
 * own page (its webContents, its main frame, the file: URL of dist/renderer/index.html),
 * name a channel of the contract, and carry a payload that fits the channel's schema.
 * Whatever is refused gets one line and never reaches the service. Responses come back
 * validated by the service connection's ContractClient; errors reach the renderer as
 * { code, message }, one line. The service's events, and the state of the connection,
 * go to the window.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import type { ContractApi } from '../../shared/contract-client.js';
import { errorCodeOf } from '../../shared/contract-client.js';
import { isRequestChannel, parseEvent, parseRequest, type EventChannel, type RequestChannel, type ServiceStart } from '../../shared/contract.js';
import { isRemedy, type ErrorInfo } from '../../shared/errors.js';
import { EVENT_IPC, REQUEST_IPC, type BridgeEvent, type BridgeReply } from './ipc-channels.js';

export interface BridgeOptions {
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  /** The window's webContents, when there is a window. */
  window(): WebContents | undefined;
  /** The file: URL of the window's page. */
  rendererUrl: string;
  /** The service, reconnecting (ServiceConnection). */
  service: ContractApi & {
    onAnyEvent(listener: (channel: EventChannel, payload: unknown) => void): () => void;
  };
  /** Requests the main process answers itself instead of the service. */
  startService(): Promise<ServiceStart>;
  /** Each refusal, for the log. */
  refused?(line: string): void;
}

/** A request the bridge refused: the reply carries its code and line. */
class Refusal extends Error {
  constructor(
    readonly code: ErrorInfo['code'],
    message: string,
  ) {
    super(message);
  }
}

export class IpcBridge {
  private readonly offEvents: () => void;

  constructor(private readonly options: BridgeOptions) {
    options.ipcMain.handle(REQUEST_IPC, (event, channel: unknown, payload: unknown) => this.answer(event, channel, payload));
    this.offEvents = options.service.onAnyEvent((channel, payload) => this.send({ channel, payload }));
  }

  /** Hands an event to the window after checking it against its schema. */
  sendEvent<E extends EventChannel>(channel: E, payload: unknown): void {
    try {
      this.send({ channel, payload: parseEvent(channel, payload) });
    } catch (e) {
      this.options.refused?.(`did not send the window a ${channel} event: ${(e as Error).message}`);
    }
  }

  close(): void {
    this.options.ipcMain.removeHandler(REQUEST_IPC);
    this.offEvents();
  }

  private async answer(event: IpcMainInvokeEvent, channel: unknown, payload: unknown): Promise<BridgeReply> {
    try {
      this.checkSender(event);
      if (typeof channel !== 'string' || !isRequestChannel(channel)) {
        throw new Refusal('usage', `unknown request channel ${JSON.stringify(channel)}: the contract (shared/contract.ts) has no such request`);
      }
      const checked = parseRequest(channel, payload);
      const response = channel === 'startService' ? await this.options.startService() : await this.options.service.request(channel as Exclude<RequestChannel, 'startService'>, checked as never);
      return { ok: true, payload: response };
    } catch (e) {
      const remedy = (e as { remedy?: unknown })?.remedy;
      const error: ErrorInfo = { code: errorCodeOf(e), message: oneLine((e as Error)?.message ?? String(e)), ...(isRemedy(remedy) ? { remedy } : {}) };
      if (e instanceof Refusal || errorCodeOf(e) === 'usage') this.options.refused?.(`refused a request from the window: ${error.message}`);
      return { ok: false, error };
    }
  }

  /** Only our window's page may ask: not another webContents, a subframe, or a page it navigated to. */
  private checkSender(event: IpcMainInvokeEvent): void {
    const ours = this.options.window();
    if (!ours || ours.isDestroyed() || event.sender.id !== ours.id) throw new Refusal('permission', 'refused a request from a web page that is not the Chronodisk window');
    const frame = event.senderFrame;
    if (!frame || frame.parent !== null) throw new Refusal('permission', "refused a request from a frame that is not the Chronodisk window's page");
    if (pageOf(frame.url) !== pageOf(this.options.rendererUrl)) {
      throw new Refusal('permission', `refused a request from ${pageOf(frame.url)}, which is not the Chronodisk window's page`);
    }
  }

  private send(message: BridgeEvent): void {
    const target = this.options.window();
    if (!target || target.isDestroyed()) return;
    target.send(EVENT_IPC, message);
  }
}

/** A URL without its query and fragment (the window may use #routes). */
function pageOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url;
  }
}

function oneLine(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}
