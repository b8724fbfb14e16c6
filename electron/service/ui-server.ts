import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_ENVELOPE_CHARS } from '../../shared/contract.js';
import type { ChronodiskService } from './chronodisk-service.js';
import { hostAllowed, loopbackHost, originAllowed, tokenMatches, urlHost } from './loopback-guard.js';
import { serveConnection } from './service-connection.js';
import { defaultRendererDir, reply, serveStatic } from './static-files.js';
import { WebSocketTransport } from './ws-transport.js';

export interface UiServerOptions {
  /** 127.0.0.1 (default), ::1 or localhost; anything else is refused. */
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** The built renderer (default dist/renderer). */
  rendererDir?: string;
  /** Tests may fix it; otherwise 32 random bytes. */
  token?: string;
}

export interface UiListening {
  url: string;
  host: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/** The WebSocket subprotocol that carries the token: `chronodisk.TOKEN`. */
export const TOKEN_PROTOCOL_PREFIX = 'chronodisk.';
/** A socket that authenticates with its first message must send it within this long. */
const FIRST_MESSAGE_MS = 10_000;

/**
 * `chronodisk ui`'s server: HTTP on loopback serving the built renderer, and at /ws a
 * WebSocket carrying the same envelopes as the unix socket. The WebSocket needs the
 * token, as the subprotocol `chronodisk.TOKEN` or as a first message {"token":"…"}; any
 * request whose Host (or Origin) is not this server's loopback name and port is refused.
 */
export async function startUiServer(service: ChronodiskService, options: UiServerOptions = {}): Promise<UiListening> {
  const host = loopbackHost(options.host ?? '127.0.0.1');
  const token = options.token ?? randomBytes(32).toString('base64url');
  const root = options.rendererDir ?? defaultRendererDir();
  let port = 0;
  const headers = () => ({
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': `default-src 'self'; connect-src 'self' ws://${urlHost(host, port)}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'`,
  });
  const http = createServer((req, res) => {
    if (!hostAllowed(req.headers.host, port)) return reply(res, 403, `refused: the Host header must name this machine's loopback at port ${port}\n`);
    if (pathOf(req) === '/ws') return reply(res, 426, 'this is the WebSocket endpoint\n', { ...headers(), Upgrade: 'websocket' });
    serveStatic(req, res, root, headers());
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_ENVELOPE_CHARS,
    handleProtocols: (offered) => [...offered].find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX) && tokenMatches(p.slice(TOKEN_PROTOCOL_PREFIX.length), token)) ?? false,
  });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (pathOf(req) !== '/ws') return refuse(socket, 404, 'not found');
    if (!hostAllowed(req.headers.host, port)) return refuse(socket, 403, `the Host header must name this machine's loopback at port ${port}`);
    if (!originAllowed(req.headers.origin, port)) return refuse(socket, 403, `Origin ${req.headers.origin} is not this server's; the UI is served only to its own page`);
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const viaProtocol = offered.some((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX) && tokenMatches(p.slice(TOKEN_PROTOCOL_PREFIX.length), token));
    if (offered.length > 0 && !viaProtocol) return refuse(socket, 401, 'wrong token: offer the subprotocol chronodisk.TOKEN with the token printed by chronodisk ui');
    wss.handleUpgrade(req, socket, head, (ws) => (viaProtocol ? serveConnection(service, new WebSocketTransport(ws)) : awaitToken(ws)));
  });

  /** Without the subprotocol, the first message must be {"token":"…"}; anything else closes the socket. */
  const awaitToken = (ws: WebSocket) => {
    const timer = setTimeout(() => ws.close(4401, 'no token sent'), FIRST_MESSAGE_MS);
    ws.once('message', (data: Buffer) => {
      clearTimeout(timer);
      let given: unknown;
      try {
        given = (JSON.parse(data.toString('utf8')) as { token?: unknown })?.token;
      } catch {
        given = undefined;
      }
      if (typeof given === 'string' && tokenMatches(given, token)) serveConnection(service, new WebSocketTransport(ws));
      else ws.close(4401, 'wrong token');
    });
    ws.once('close', () => clearTimeout(timer));
  };

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => resolve());
  });
  port = (http.address() as { port: number }).port;
  return {
    url: `http://${urlHost(host, port)}/#token=${token}`,
    host,
    port,
    token,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      const closed = new Promise<void>((r) => http.close(() => r()));
      http.closeAllConnections();
      await closed;
    },
  };
}

function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://x').pathname;
  } catch {
    return '';
  }
}

/** Refuses an upgrade with a plain HTTP status and closes the socket. */
function refuse(socket: Duplex, status: number, message: string): void {
  const text = `${message}\n`;
  const reason = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status] ?? 'Refused';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}
