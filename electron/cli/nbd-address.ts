import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { ChronodiskError } from '../engine/errors.js';
import type { ListenAddress } from '../engine/nbd/server.js';

export interface AddressOptions {
  socket?: string;
  port?: string;
  host?: string;
}

/** --socket PATH | --port N [--host 127.0.0.1|::1]: where an NBD listener goes. */
export function addressOptions(cmd: Command): Command {
  return cmd
    .option('--socket <path>', 'listen on this unix socket (mode 0600)')
    .option('--port <n>', 'listen on this TCP port of the loopback address instead')
    .option('--host <address>', 'the loopback address for --port: 127.0.0.1 or ::1', '127.0.0.1');
}

export function listenAddress(opts: AddressOptions, defaultSocket: string): ListenAddress {
  if (opts.socket && opts.port) throw new ChronodiskError('usage', 'give --socket or --port, not both');
  if (opts.port !== undefined) {
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ChronodiskError('usage', `--port ${opts.port} is not a port number (0-65535)`);
    return { host: opts.host ?? '127.0.0.1', port };
  }
  if (opts.socket === undefined) {
    // Our own runtime directory is ours to make; a directory someone named is not (a typo
    // would leave a tree of them behind).
    mkdirSync(dirname(defaultSocket), { recursive: true, mode: 0o700 });
    return { socket: defaultSocket };
  }
  if (!existsSync(dirname(opts.socket))) {
    throw new ChronodiskError('not-found', `--socket ${opts.socket}: its directory ${dirname(opts.socket)} does not exist; create it or name another path`);
  }
  return { socket: opts.socket };
}
