/**
 * Requests as the stores make them: through the connected ContractApi, with a failure shown
 * as a one-line toast (the ServiceError's message) unless the caller handles it.
 */
import { errorCodeOf, type ContractApi } from '../../../shared/contract-client.js';
import type { RequestChannel, RequestOf, ResponseOf } from '../../../shared/contract.js';
import type { ErrorCode, Remedy } from '../../../shared/errors.js';
import { useConnectionStore } from './connection-store.js';
import { useToastStore } from './toast-store.js';

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string; remedy?: Remedy };

function api(): ContractApi | undefined {
  return useConnectionStore.getState().api;
}

/** Makes a request; never throws. */
export async function attempt<C extends RequestChannel>(channel: C, payload: RequestOf<C>): Promise<Outcome<ResponseOf<C>>> {
  const a = api();
  if (!a) return { ok: false, code: 'io', message: 'not connected to the Chronodisk service' };
  try {
    return { ok: true, value: await a.request(channel, payload) };
  } catch (e) {
    return { ok: false, code: errorCodeOf(e), message: (e as Error).message, remedy: (e as { remedy?: Remedy }).remedy };
  }
}

/** Makes a request; on failure shows its message as a toast and answers undefined. */
export async function call<C extends RequestChannel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C> | undefined> {
  const r = await attempt(channel, payload);
  if (r.ok) return r.value;
  if (useConnectionStore.getState().state === 'connected') useToastStore.getState().push(r.message, 'error', r.remedy);
  return undefined;
}
