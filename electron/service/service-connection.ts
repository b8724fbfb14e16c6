import type { ContractTransport } from '../../shared/contract-client.js';
import type { ChronodiskService } from './chronodisk-service.js';
import { refusal } from './request-router.js';

export interface ConnectionLimits {
  /** Bytes queued for a client that does not read: past this it is disconnected (events must not pile up in memory). */
  maxBacklogBytes: number;
  /** Requests answered at once per connection; more get 'busy'. */
  maxInFlight: number;
  /** Messages that break the protocol (not JSON, not a request…) before the connection is closed. */
  maxProtocolErrors: number;
}

export const defaultLimits: ConnectionLimits = { maxBacklogBytes: 64 * 1024 * 1024, maxInFlight: 64, maxProtocolErrors: 20 };

/** A server-side transport; `backlog` (bytes not yet taken by the peer) where the transport knows it. */
export type ServerTransport = ContractTransport & { readonly backlog?: number; destroy?(reason: string): void };

/**
 * One client of the service, over any transport: every message it sends is answered by
 * the service's router, every event goes to it, until it closes. A client that breaks
 * the protocol again and again, or stops reading while events pile up, is disconnected;
 * the service itself carries on.
 */
export function serveConnection(service: ChronodiskService, transport: ServerTransport, limits: ConnectionLimits = defaultLimits): void {
  let open = true;
  let inFlight = 0;
  let protocolErrors = 0;
  const send = (text: string) => {
    if (!open) return;
    if ((transport.backlog ?? 0) > limits.maxBacklogBytes) return close('it stopped reading');
    try {
      transport.send(text);
    } catch {
      close();
    }
  };
  const close = (why?: string) => {
    if (!open) return;
    open = false;
    unsubscribe();
    if (why && transport.destroy) transport.destroy(why);
    else transport.close();
  };
  const unsubscribe = service.subscribe((channel, payload) => send(JSON.stringify({ type: 'event', channel, payload })));
  transport.onClose(() => {
    open = false;
    unsubscribe();
  });
  transport.onMessage((text) => {
    if (!open) return;
    if (inFlight >= limits.maxInFlight) {
      send(refusal(text, { code: 'busy', message: `more than ${limits.maxInFlight} requests at once on this connection; wait for answers first` }));
      return;
    }
    inFlight++;
    void service.answer(text).then((a) => {
      inFlight--;
      send(a.reply);
      if (a.protocolError && ++protocolErrors >= limits.maxProtocolErrors) close();
    });
  });
}
