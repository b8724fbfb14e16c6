import {
  ContractError,
  isRequestChannel,
  parseEnvelope,
  parseRequest,
  parseResponse,
  type RequestChannel,
  type RequestOf,
  type ResponseOf,
} from '../../shared/contract.js';
import type { ErrorInfo } from '../../shared/errors.js';
import { errorInfoOf } from './error-wire.js';

/** One handler per request channel of the contract: the compiler checks none is missing. */
export type Handlers = { [C in RequestChannel]: (request: RequestOf<C>) => Promise<ResponseOf<C>> | ResponseOf<C> };

/** What answering one incoming message gives: the reply text, and whether the message broke the protocol. */
export interface Answer {
  reply: string;
  /** Not JSON, not an envelope, not a request, or an unknown channel: the connection counts these. */
  protocolError: boolean;
}

/**
 * Turns one incoming message into one reply. The envelope and the payload are validated
 * against the contract before any handler runs, the response after it returns and before
 * it leaves; whatever fails — bad input, a refused action, an engine error, a bug — is
 * answered as { ok: false, error: { code, message } } with a one-line message. Nothing
 * here throws. A message with no usable id is answered with id 0, which no client uses.
 */
export class RequestRouter {
  constructor(private readonly handlers: Handlers) {}

  async answer(text: string): Promise<Answer> {
    let id = 0;
    let channel: RequestChannel;
    let payload: unknown;
    try {
      const m = parseEnvelope(text);
      if (m.type !== 'request') {
        if (m.type === 'response') id = m.id;
        throw new ContractError(`a client sends requests; this was a${m.type === 'event' ? 'n event' : ' response'}`);
      }
      id = m.id;
      if (!isRequestChannel(m.channel)) throw new ContractError(`unknown request channel ${JSON.stringify(m.channel.slice(0, 64))}`);
      channel = m.channel;
      payload = m.payload;
    } catch (e) {
      if (id === 0) id = idOf(text);
      return { reply: failure(id, errorInfoOf(e)), protocolError: true };
    }
    try {
      const request = parseRequest(channel, payload);
      const response = await (this.handlers[channel] as (r: unknown) => unknown)(request);
      let checked: unknown;
      try {
        checked = parseResponse(channel, response);
      } catch (e) {
        return { reply: failure(id, { code: 'internal', message: `the service built a bad ${channel} response (a bug): ${errorInfoOf(e).message}` }), protocolError: false };
      }
      return { reply: JSON.stringify({ type: 'response', id, ok: true, payload: checked }), protocolError: false };
    } catch (e) {
      return { reply: failure(id, errorInfoOf(e)), protocolError: false };
    }
  }
}

/** A reply refusing a message unanswered (too many requests in flight), to its id when it has one. */
export function refusal(text: string, error: ErrorInfo): string {
  return failure(idOf(text), error);
}

function failure(id: number, error: ErrorInfo): string {
  return JSON.stringify({ type: 'response', id, ok: false, error });
}

/** The id of a message that is JSON with an integer id, even when the rest is wrong (so the client's request fails rather than hangs). */
function idOf(text: string): number {
  try {
    const v = (JSON.parse(text) as { id?: unknown })?.id;
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
  } catch {
    return 0;
  }
}
