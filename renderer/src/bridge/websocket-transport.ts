/** A ContractTransport over a browser WebSocket: one JSON envelope per text message. */
import type { ContractTransport } from '../../../shared/contract-client.js';

/** Opens the socket; resolves once it is open, rejects with one line when it cannot. */
export function openWebSocketTransport(url: string, protocols: string[]): Promise<ContractTransport> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, protocols);
    } catch (e) {
      reject(new Error(`cannot open ${url}: ${(e as Error).message}`));
      return;
    }
    let receive: (text: string) => void = () => {};
    let closed: (reason: string) => void = () => {};
    let open = false;
    ws.addEventListener('open', () => {
      open = true;
      resolve({
        send: (text) => ws.send(text),
        onMessage: (r) => void (receive = r),
        onClose: (c) => void (closed = c),
        close: () => ws.close(1000, 'closed by the window'),
      });
    });
    ws.addEventListener('message', (ev: MessageEvent) => {
      if (typeof ev.data === 'string') receive(ev.data);
    });
    ws.addEventListener('close', (ev: CloseEvent) => {
      // 1006: closed without a word, as when the service stops or the network drops.
      const why = ev.reason ? `${ev.reason} (code ${ev.code})` : ev.code === 1006 ? 'the connection to the service was lost' : `the connection closed (code ${ev.code})`;
      if (open) closed(why);
      else reject(new Error(`the service refused the connection: ${why}`));
    });
  });
}
