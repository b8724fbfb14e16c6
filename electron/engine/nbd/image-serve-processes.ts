/**
 * The time-image export served by child processes (what `chronodisk serve` runs). This
 * process only listens: it hands each connection, before a byte is read from it, to the
 * child serving the fewest. Each child opens the appliance read-only and serves its
 * connections whole, reading time images in-process and synchronously (readNow in
 * requests.ts): no message between threads per request, each reply read into a buffer that
 * is still in the CPU's cache when the socket takes it, and one core per child. A
 * connection's reads stay in one process, so the time-map windows a child keeps serve every
 * request of that connection in the window (nbdcopy reads a 128 MiB stretch per connection).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ErrorCode } from '../../../shared/errors.js';
import { ChronodiskError } from '../errors.js';
import { builtWorkerScript } from '../worker-script.js';
import { ExportTable } from './export.js';
import { checkExportNames, type ServeOptions } from './serve-images.js';
import { NbdServer, type ListenAddress, type Listening } from './server.js';

/** A resolved point to serve, by name: a child opens its own time image of it. */
export interface ServedPoint {
  name: string;
  description: string;
  disk: string;
  seq: number;
}

export interface StartMessage extends Pick<ServeOptions, 'overlay' | 'overlayDir' | 'defaultName'> {
  type: 'start';
  dir: string;
  /** Sent over the IPC channel, never on a command line or in the environment. */
  passphrase?: string;
  points: ServedPoint[];
}

/** Parent → child; a `connection` carries the socket as the message's handle. */
export type ParentMessage = StartMessage | { type: 'connection' } | { type: 'close' };

/** Child → parent. `closed`: one of its connections ended. */
export type ChildMessage = { type: 'ready' } | { type: 'failed'; message: string; code?: ErrorCode } | { type: 'closed' } | { type: 'error'; message: string };

interface Child {
  process: ChildProcess;
  connections: number;
  alive: boolean;
  exited: Promise<void>;
}

/** What a child's NbdServer.close() may take (in-flight requests, then a forced drop), and some. */
const CHILD_STOP_MS = 10_000;

const childScript = builtWorkerScript(import.meta.url, 'image-serve-process.js');

export class ImageServeProcesses {
  private closing?: Promise<void>;

  private constructor(
    private readonly children: Child[],
    private readonly onError: (e: unknown) => void,
  ) {}

  /** False when the child script is not built (the engine run from TypeScript, as under vitest). */
  static available(): boolean {
    return childScript !== undefined;
  }

  /** Starts `count` children (default: one per core, at most 4); each opens the appliance first. */
  static async start(
    dir: string,
    points: ServedPoint[],
    options: Pick<ServeOptions, 'overlay' | 'overlayDir' | 'defaultName'> & { passphrase?: string; count?: number; onError?: (e: unknown) => void },
  ): Promise<ImageServeProcesses> {
    if (!childScript) throw new ChronodiskError('io', 'the serving process script is not built; run npm run build');
    const count = Math.max(1, options.count ?? Math.min(4, availableParallelism()));
    const onError = options.onError ?? (() => undefined);
    const start: StartMessage = { type: 'start', dir, passphrase: options.passphrase, points, overlay: options.overlay, overlayDir: options.overlayDir, defaultName: options.defaultName };
    const children = Array.from({ length: count }, () => startChild(fileURLToPath(childScript), onError));
    const pool = new ImageServeProcesses(children, onError);
    try {
      await Promise.all(children.map((c) => ready(c, start)));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Hands a freshly accepted connection to the child with the fewest. */
  handOff(socket: Socket): void {
    socket.on('error', () => undefined); // a reset before the hand-off is the client's business
    let to: Child | undefined;
    for (const c of this.children) if (c.alive && (!to || c.connections < to.connections)) to = c;
    if (!to || this.closing) {
      socket.destroy();
      if (!this.closing) this.onError(new ChronodiskError('io', 'every serving process has stopped; restart chronodisk serve'));
      return;
    }
    const child = to;
    child.connections++;
    child.process.send({ type: 'connection' } satisfies ParentMessage, socket, (e) => {
      if (!e) return;
      child.connections--;
      socket.destroy();
    });
  }

  /** Each child finishes its requests in flight and closes its connections, then exits. */
  close(): Promise<void> {
    this.closing ??= Promise.all(
      this.children.map(async (c) => {
        if (c.alive && c.process.connected) c.process.send({ type: 'close' } satisfies ParentMessage);
        const timer = setTimeout(() => c.process.kill('SIGKILL'), CHILD_STOP_MS);
        await c.exited;
        clearTimeout(timer);
      }),
    ).then(() => undefined);
    return this.closing;
  }
}

function startChild(script: string, onError: (e: unknown) => void): Child {
  const p = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const child: Child = { process: p, connections: 0, alive: true, exited: new Promise((resolve) => p.once('exit', () => resolve())) };
  p.on('message', (m: ChildMessage) => {
    if (m.type === 'closed') child.connections--;
    else if (m.type === 'error') onError(new Error(m.message));
  });
  p.once('exit', () => (child.alive = false));
  p.on('error', () => undefined); // a send to a child that just exited; 'exit' says the rest
  return child;
}

function ready(child: Child, start: StartMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ChildMessage) => {
      if (m.type !== 'ready' && m.type !== 'failed') return;
      child.process.off('message', onMessage);
      child.process.off('exit', onExit);
      if (m.type === 'ready') resolve();
      else reject(m.code ? new ChronodiskError(m.code, m.message) : new Error(m.message));
    };
    const onExit = () => reject(new ChronodiskError('io', 'a serving process stopped before it was ready'));
    child.process.on('message', onMessage);
    child.process.once('exit', onExit);
    child.process.send(start satisfies ParentMessage);
  });
}

/**
 * serveImages' counterpart for points of an appliance: listens on `address` and serves on
 * child processes. close() stops listening, then stops the children.
 */
export async function servePointsInProcesses(
  dir: string,
  points: ServedPoint[],
  address: ListenAddress,
  options: ServeOptions & { passphrase?: string; count?: number },
): Promise<{ listening: Listening; close: () => Promise<void> }> {
  checkExportNames(points);
  const onError = (e: unknown) => options.onError?.(e);
  const processes = await ImageServeProcesses.start(dir, points, { ...options, onError });
  // The listener serves nothing itself: every connection is handed off before it is read.
  const server = new NbdServer({ provider: new ExportTable([]), handOff: (s) => processes.handOff(s), onError });
  try {
    const listening = await server.listen(address);
    return {
      listening,
      close: async () => {
        await server.close();
        await processes.close();
      },
    };
  } catch (e) {
    await server.close();
    await processes.close();
    throw e;
  }
}
