/**
 * Wraps a ContractApi that another process hands us (Electron's preload bridge) so that the
 * window validates at its own boundary too: requests before they leave, responses and
 * events when they arrive, exactly as ContractClient does over a socket.
 */
import { parseEvent, parseRequest, parseResponse } from '../../../shared/contract.js';
import { ServiceError, type ContractApi } from '../../../shared/contract-client.js';
import { errorCodes, isRemedy, type ErrorCode } from '../../../shared/errors.js';

/** An error from across the bridge, as a ServiceError (IPC loses classes; code, message and remedy survive). */
function asServiceError(e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  const o = (e ?? {}) as { code?: unknown; message?: unknown; remedy?: unknown };
  const code = typeof o.code === 'string' && (errorCodes as readonly string[]).includes(o.code) ? (o.code as ErrorCode) : 'internal';
  // Electron prefixes rejected invokes with "Error invoking remote method 'x': Error: …".
  const message = String(o.message ?? e).replace(/^Error invoking remote method '[^']*': (\w*Error: )?/, '');
  return new ServiceError(code, message, isRemedy(o.remedy) ? o.remedy : undefined);
}

export function validatingApi(inner: ContractApi): ContractApi {
  return {
    async request(channel, payload) {
      const checked = parseRequest(channel, payload);
      let answer: unknown;
      try {
        answer = await inner.request(channel, checked);
      } catch (e) {
        throw asServiceError(e);
      }
      return parseResponse(channel, answer);
    },
    on(channel, listener) {
      return inner.on(channel, (payload) => {
        let checked;
        try {
          checked = parseEvent(channel, payload);
        } catch (e) {
          console.warn((e as Error).message);
          return;
        }
        listener(checked);
      });
    },
  };
}
