/**
 * Where the window's ContractApi comes from. In Electron the preload script exposes
 * `window.chronodisk` ({ request, on }); in a plain browser (`chronodisk ui`) the window
 * opens a WebSocket to ws(s)://<host>/ws with the token from `#token=…`, offered as the
 * subprotocol `chronodisk.TOKEN` (docs/SERVICE.md).
 */
import { ContractClient, type ContractApi } from '../../../shared/contract-client.js';
import { openWebSocketTransport } from './websocket-transport.js';
import { validatingApi } from './validating-api.js';

declare global {
  interface Window {
    /** Set by Electron's preload script; absent in a browser. */
    chronodisk?: ContractApi;
  }
}

export interface Connection {
  api: ContractApi;
  /** Registers what to do when the service is gone (never called under Electron, whose bridge lives as long as the window). */
  onClosed(listener: (reason: string) => void): void;
  close(): void;
}

/** The token in the address's fragment: "#token=abc" (other fragment fields are ignored). */
export function tokenFromHash(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const t = params.get('token');
  return t ? t : undefined;
}

export async function connectToService(): Promise<Connection> {
  const bridged = window.chronodisk;
  if (bridged) return { api: validatingApi(bridged), onClosed: () => {}, close: () => {} };
  const token = tokenFromHash(window.location.hash);
  if (!token) throw new Error('this address has no token: open the address that `chronodisk ui` printed (it ends in #token=…)');
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const transport = await openWebSocketTransport(`${scheme}//${window.location.host}/ws`, [`chronodisk.${token}`]);
  const client = new ContractClient(transport);
  client.onProtocolError = (e) => console.warn(e.message);
  return {
    api: client,
    onClosed: (listener) => void (client.onClosed = listener),
    close: () => client.close(),
  };
}
