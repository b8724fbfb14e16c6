/**
 * Where an NBD server may listen: a unix socket only its owner can reach, or loopback TCP.
 * The server holds raw disk bytes, so nothing outside the machine may connect.
 */
import { lstatSync, mkdtempSync, renameSync, rmSync, chmodSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { ChronodiskError, fromFsError, usageError } from '../errors.js';

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export type ListenAddress = { socket: string } | { host: string; port: number };

const LOOPBACK: Record<string, string> = { '127.0.0.1': '127.0.0.1', '::1': '::1', localhost: '127.0.0.1', '[::1]': '::1' };

/** The loopback host to bind, or a usage error naming what is allowed instead. */
export function loopbackHost(host: string): string {
  const h = LOOPBACK[host.trim().toLowerCase()];
  if (!h) {
    throw usageError(
      `refusing to serve NBD on ${host}: only 127.0.0.1, ::1 or a unix socket are allowed (disk contents must not leave this machine); use --socket PATH or --port N on 127.0.0.1`,
    );
  }
  return h;
}

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`port ${port} is not a TCP port (0-65535)`);
  return port;
}

/**
 * Makes room for a socket at `path`: removes a stale socket nobody listens on, refuses a live
 * one or anything that is not a socket.
 */
export async function clearSocketPath(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fromFsError(e, path);
  }
  if (!st.isSocket()) throw new ChronodiskError('exists', `${path} exists and is not a socket; choose another socket path`);
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw new ChronodiskError('busy', `${path} is in use by another server; stop it or choose another socket path`);
  unlinkSync(path);
}

/**
 * Binds `server` to a unix socket at `path` with mode 0600 and no window where anyone else
 * could connect: bind inside a fresh 0700 directory, chmod, then rename into place.
 */
export async function listenOnSocket(server: net.Server, path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw usageError(`socket path ${path} is longer than the ${MAX_SOCKET_PATH} bytes a unix socket allows; choose a shorter path`);
  }
  await clearSocketPath(path);
  let dir: string;
  try {
    dir = mkdtempSync(join(dirname(path), '.nbd'));
  } catch (e) {
    throw fromFsError(e, dirname(path));
  }
  // Short names: the temporary path has to fit in sun_path as well.
  const tmp = join(dir, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (e) {
    server.close();
    throw fromFsError(e, path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function listenOnTcp(server: net.Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE') throw new ChronodiskError('busy', `port ${port} on ${host} is already in use; choose another --port`);
    throw e;
  });
  return (server.address() as net.AddressInfo).port;
}
