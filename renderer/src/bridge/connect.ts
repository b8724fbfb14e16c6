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

export interface LinkState {
  connected: boolean;
  /** Why not, in one line. */
  reason?: string;
}

export interface Connection {
  api: ContractApi;
  /** Whether the window may ask for the service to be started (the desktop app can; a browser cannot). */
  canStartService: boolean;
  /** Reports each change of the link after it was made. */
  onState(listener: (s: LinkState) => void): void;
  close(): void;
}

/** The token in the address's fragment: "#token=abc" (other fragment fields are ignored). */
export function tokenFromHash(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const t = params.get('token');
  return t ? t : undefined;
}

/** The desktop app: its main process keeps the service connection and says how it stands (serviceConnection). */
function electronConnection(bridged: ContractApi): Connection {
  const api = validatingApi(bridged);
  return {
    api,
    canStartService: true,
    onState(listener) {
      api.on('serviceConnection', (s) => {
        if (s.state === 'connected') listener({ connected: true });
        else if (s.state === 'disconnected') listener({ connected: false, reason: s.reason ?? `no Chronodisk service answers at ${s.socket}` });
      });
    },
    close: () => {},
  };
}

export async function connectToService(): Promise<Connection> {
  const bridged = window.chronodisk;
  if (bridged) return electronConnection(bridged);
  const token = tokenFromHash(window.location.hash);
  if (!token) throw new Error('this address has no token: open the address that `chronodisk ui` printed (it ends in #token=…)');
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const transport = await openWebSocketTransport(`${scheme}//${window.location.host}/ws`, [`chronodisk.${token}`]);
  const client = new ContractClient(transport);
  client.onProtocolError = (e) => console.warn(e.message);
  return {
    api: client,
    canStartService: false,
    onState: (listener) => void (client.onClosed = (reason) => listener({ connected: false, reason })),
    close: () => client.close(),
  };
}
