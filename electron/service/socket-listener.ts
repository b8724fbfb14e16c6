import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { ChronodiskError } from '../engine/errors.js';
import { WriterLock } from '../engine/store/writer-lock.js';
import type { ChronodiskService } from './chronodisk-service.js';
import { NdjsonTransport } from './ndjson-transport.js';
import { serveConnection } from './service-connection.js';

export interface SocketOptions {
  path: string;
  /** A gid whose members may connect (groupId resolves a name): the socket is then 0660 root:GROUP, else 0600. */
  gid?: number;
}

export interface SocketListening {
  path: string;
  mode: number;
  close(): Promise<void>;
}

/**
 * The service's unix socket: NDJSON envelopes (ndjson-transport.ts), one connection per
 * client. The socket is created 0600 (only its owner, root, may connect) or 0660 for
 * --group, never wider. A socket file left by a service that died is removed; one that
 * answers belongs to a running service, and starting is refused.
 */
export async function listenOnSocket(service: ChronodiskService, options: SocketOptions): Promise<SocketListening> {
  const gid = options.gid;
  const mode = gid === undefined ? 0o600 : 0o660;
  mkdirSync(dirname(options.path), { recursive: true, mode: 0o755 });
  await clearStale(options.path);
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    serveConnection(service, new NdjsonTransport(sock));
  });
  // The socket appears with the umask's mode: make that 0600 from its first moment.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'EACCES' ? new ChronodiskError('permission', `cannot create the socket ${options.path}: permission denied (run as root or pass --socket)`) : e),
      );
      server.listen(options.path, resolve);
    });
  } finally {
    process.umask(umask);
  }
  const ino = lstatSync(options.path).ino;
  // Write commands of the CLI find the socket here when they find the appliance locked.
  WriterLock.announceSocket(service.appliance.dir, resolve(options.path));
  if (gid !== undefined) {
    chownSync(options.path, process.getuid?.() ?? 0, gid);
    chmodSync(options.path, mode);
  }
  return {
    path: options.path,
    mode,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      // Only our own socket file: a later service may have taken the path meanwhile.
      try {
        if (lstatSync(options.path).ino === ino) unlinkSync(options.path);
      } catch {
        // already gone
      }
    },
  };
}

/** Removes a socket file nothing answers on; refuses one a live service answers on, or a path that is not a socket. */
async function clearStale(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ChronodiskError('exists', `${path} exists and is not a socket; remove it or pass another --socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(2000, () => done(true));
  });
  if (live) throw new ChronodiskError('busy', `another Chronodisk service already listens at ${path}; stop it first, or pass another --socket`);
  unlinkSync(path);
}

/** A group name (from /etc/group) or a numeric gid, as --group gives it. */
export function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new ChronodiskError('usage', `--group ${group} is not a group on this machine; create it (groupadd ${group}) or give a gid`);
}
