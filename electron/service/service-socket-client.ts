/**
 * A client of the service over its unix socket: the CLI, the Electron shell's main
 * process and tests use it. Everything it sends and receives is validated by
 * ContractClient against the table in shared/contract.ts.
 */
import { connect } from 'node:net';
import { ContractClient, ServiceError } from '../../shared/contract-client.js';
import { NdjsonTransport } from './ndjson-transport.js';

/** Where the service listens unless told otherwise. */
export const DEFAULT_SERVICE_SOCKET = '/run/chronodisk/service.sock';

export function connectService(socketPath: string = DEFAULT_SERVICE_SOCKET, timeoutMs = 5000): Promise<ContractClient> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ServiceError('io', `the Chronodisk service at ${socketPath} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(new ContractClient(new NdjsonTransport(sock)));
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? `no Chronodisk service listens at ${socketPath}; start it with: sudo chronodisk service`
          : e.code === 'EACCES'
            ? `not allowed to reach the Chronodisk service at ${socketPath}; run as root or join the socket's group`
            : `could not reach the Chronodisk service at ${socketPath}: ${e.message}`;
      reject(new ServiceError(e.code === 'EACCES' ? 'permission' : 'io', why));
    });
  });
}
