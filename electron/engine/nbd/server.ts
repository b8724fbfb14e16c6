/**
 * The NBD server: listens on a unix socket or loopback TCP, runs one NbdSession per
 * connection over a socket, and closes everything on close().
 */
import { lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { ExportProvider } from './export.js';
import { checkPort, listenOnSocket, listenOnTcp, loopbackHost, type ListenAddress } from './listen-address.js';
import { defaultLimits, NbdSession, type SessionLimits, type SessionTransport } from './session.js';

export type { ListenAddress } from './listen-address.js';

/** A reply piece this large (READ data) is sent at once instead of waiting for the turn's end. */
const LARGE_REPLY = 64 * 1024;

export interface NbdServerOptions {
  provider: ExportProvider;
  /**
   * Instead of serving them here, hand accepted connections (paused, nothing read yet) to
   * this function: the listener of a server whose connections live in other processes.
   */
  handOff?: (socket: net.Socket) => void;
  limits?: Partial<SessionLimits>;
  /** Connections beyond this are dropped at once. */
  maxConnections?: number;
  /** A client that has not chosen an export by then is dropped. */
  handshakeTimeoutMs?: number;
  /** Told about anything unexpected thrown while serving a connection (which is then dropped). */
  onError?: (e: unknown) => void;
}

export interface Listening {
  socket?: string;
  host?: string;
  port?: number;
  /** An NBD URI for export `name` (nbd+unix:///NAME?socket=… or nbd://HOST:PORT/NAME). */
  uri(name?: string): string;
}

interface Connection {
  socket: net.Socket;
  session: NbdSession;
  closed: Promise<void>;
}

export class NbdServer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly limits: SessionLimits;
  private socketPath?: string;
  private socketIno?: number;
  private closing?: Promise<void>;

  constructor(private readonly options: NbdServerOptions) {
    this.limits = { ...defaultLimits, ...options.limits };
    this.server = net.createServer({ pauseOnConnect: Boolean(options.handOff) });
    this.server.on('connection', (s) => (options.handOff && !this.closing ? options.handOff(s) : this.adopt(s)));
    this.server.on('error', () => undefined); // accept errors (EMFILE…) must not bring the process down
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async listen(address: ListenAddress): Promise<Listening> {
    if ('socket' in address) {
      await listenOnSocket(this.server, address.socket);
      this.socketPath = address.socket;
      this.socketIno = lstatSync(address.socket).ino;
      const socket = address.socket;
      return { socket, uri: (name = '') => `nbd+unix:///${encodeURIComponent(name)}?socket=${encodeURIComponent(socket)}` };
    }
    const host = loopbackHost(address.host);
    const port = await listenOnTcp(this.server, host, checkPort(address.port));
    const h = host.includes(':') ? `[${host}]` : host;
    return { host, port, uri: (name = '') => `nbd://${h}:${port}/${encodeURIComponent(name)}` };
  }

  /** Stops listening, lets in-flight requests finish briefly, drops every connection. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.session.shutdown();
    const all = () => Promise.all([...this.connections].map((c) => c.closed));
    const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
    await Promise.race([all(), delay(2000)]);
    for (const c of this.connections) c.socket.destroy();
    // An export stuck in a request (a hung device) must not hang close() forever.
    await Promise.race([all(), delay(5000)]);
    await stopped;
    this.removeSocketFile();
  }

  private removeSocketFile(): void {
    if (!this.socketPath) return;
    try {
      // Only our own socket: another server may have replaced it since.
      if (lstatSync(this.socketPath).ino === this.socketIno) unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
  }

  /**
   * Serves a connection accepted elsewhere (another process's listener handed it over), as
   * if this server had accepted it.
   */
  adopt(socket: net.Socket): void {
    socket.on('error', () => undefined); // resets and broken pipes are the client's business
    if (this.closing || this.connections.size >= (this.options.maxConnections ?? 1024)) {
      socket.destroy();
      return;
    }
    if (socket.remoteFamily) socket.setNoDelay(true);
    // Small replies finished in the same event-loop turn leave in one writev rather than one
    // each; a large one (READ data) leaves at once, with any small ones queued before it.
    let corked = false;
    let uncorkScheduled = false;
    const uncork = (): void => {
      uncorkScheduled = false;
      if (!corked) return;
      corked = false;
      if (!socket.destroyed) socket.uncork();
    };
    const transport: SessionTransport = {
      write(chunks, sent) {
        if (chunks.length === 0 || socket.destroyed || socket.writableEnded) {
          sent?.();
          return;
        }
        const last = chunks[chunks.length - 1];
        if (!corked && chunks.length === 1 && last.length >= LARGE_REPLY) {
          // A whole READ reply in one buffer (readNow), nothing gathered before it: straight out.
          socket.write(last, sent && (() => sent()));
          return;
        }
        if (!corked) {
          corked = true;
          socket.cork();
          if (!uncorkScheduled) {
            uncorkScheduled = true;
            setImmediate(uncork);
          }
        }
        for (let i = 0; i < chunks.length - 1; i++) socket.write(chunks[i]);
        socket.write(last, sent && (() => sent()));
        if (last.length >= LARGE_REPLY) uncork();
      },
      backlog: () => socket.writableLength,
      end() {
        if (!socket.destroyed && !socket.writableEnded) socket.end();
      },
      destroy: () => socket.destroy(),
      pause: () => socket.pause(),
      resume() {
        if (!socket.destroyed) socket.resume();
      },
    };
    const session = new NbdSession(this.options.provider, transport, this.limits);
    const timer = setTimeout(() => socket.destroy(), this.options.handshakeTimeoutMs ?? 30_000);
    timer.unref();
    session.onTransmit = () => clearTimeout(timer);
    session.onInternalError = this.options.onError;
    let resolveClosed!: () => void;
    const conn: Connection = { socket, session, closed: new Promise((r) => (resolveClosed = r)) };
    this.connections.add(conn);
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    socket.on('drain', () => session.drained());
    socket.resume(); // a handed-over socket may arrive paused
    socket.on('close', () => {
      clearTimeout(timer);
      void session.terminate().finally(() => {
        this.connections.delete(conn);
        resolveClosed();
      });
    });
    session.start();
  }
}
