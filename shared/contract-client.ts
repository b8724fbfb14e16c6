/**
 * The client side of the contract over any message transport: the service's unix socket
 * (CLI, Electron main), a WebSocket (the browser UI) or Electron IPC (the window, through
 * preload). Requests are validated before they leave and responses and events when they
 * arrive, so a client never acts on a message that does not fit the table.
 */
import type { ErrorCode, Remedy } from './errors.js';
import { errorCodes } from './errors.js';
import {
  ContractError,
  isEventChannel,
  isRequestChannel,
  parseEnvelope,
  parseEvent,
  parseRequest,
  parseResponse,
  type EventChannel,
  type EventOf,
  type RequestChannel,
  type RequestOf,
  type ResponseOf,
} from './contract.js';

/** Moves whole message texts (one JSON envelope each) in both directions. */
export interface ContractTransport {
  send(text: string): void;
  /** Sets the receiver of every incoming message text. */
  onMessage(receive: (text: string) => void): void;
  /** Called once when the transport is gone, with a one-line reason. */
  onClose(closed: (reason: string) => void): void;
  close(): void;
}

/** What every client of the service offers: typed requests and event subscriptions. */
export interface ContractApi {
  request<C extends RequestChannel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>>;
  /** Subscribes to an event channel; returns the unsubscribe function. */
  on<E extends EventChannel>(channel: E, listener: (payload: EventOf<E>) => void): () => void;
}

/** An error the service answered with: its code and one-line message. */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly remedy?: Remedy,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export function isServiceError(e: unknown): e is ServiceError {
  return e instanceof ServiceError;
}

/** The error code of anything a request rejected with ('internal' when it carries none). */
export function errorCodeOf(e: unknown): ErrorCode {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (errorCodes as readonly string[]).includes(code) ? (code as ErrorCode) : 'internal';
}

interface Pending {
  channel: RequestChannel;
  resolve(value: unknown): void;
  reject(e: Error): void;
}

export class ContractClient implements ContractApi {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Map<EventChannel, Set<(payload: never) => void>>();
  private closedReason: string | undefined;
  /** Called with each incoming message that was refused (bad JSON, schema, unknown id); for logs. */
  onProtocolError?: (e: Error) => void;
  /** Called once when the connection is gone. */
  onClosed?: (reason: string) => void;

  constructor(private readonly transport: ContractTransport) {
    transport.onMessage((text) => this.receive(text));
    transport.onClose((reason) => this.closed(reason));
  }

  get connected(): boolean {
    return this.closedReason === undefined;
  }

  request<C extends RequestChannel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>> {
    if (this.closedReason !== undefined) return Promise.reject(new ServiceError('io', `not connected to the Chronodisk service: ${this.closedReason}`));
    let checked: RequestOf<C>;
    try {
      checked = parseRequest(channel, payload);
    } catch (e) {
      return Promise.reject(e);
    }
    const id = this.nextId++;
    return new Promise<ResponseOf<C>>((resolve, reject) => {
      this.pending.set(id, { channel, resolve: resolve as (v: unknown) => void, reject });
      try {
        this.transport.send(JSON.stringify({ type: 'request', id, channel, payload: checked }));
      } catch (e) {
        this.pending.delete(id);
        reject(new ServiceError('io', `could not send ${channel} to the Chronodisk service: ${(e as Error).message}`));
      }
    });
  }

  on<E extends EventChannel>(channel: E, listener: (payload: EventOf<E>) => void): () => void {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    const l = listener as (payload: never) => void;
    set.add(l);
    return () => void set.delete(l);
  }

  close(): void {
    this.transport.close();
    this.closed('closed by this client');
  }

  private receive(text: string): void {
    try {
      const m = parseEnvelope(text);
      if (m.type === 'request') throw new ContractError('the service sent a request; clients take only responses and events');
      if (m.type === 'event') {
        if (!isEventChannel(m.channel)) throw new ContractError(`unknown event channel ${JSON.stringify(m.channel)}`);
        const payload = parseEvent(m.channel, m.payload);
        for (const l of this.listeners.get(m.channel) ?? []) l(payload as never);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) throw new ContractError(`a response to request ${m.id}, which is not waiting`);
      this.pending.delete(m.id);
      if (!m.ok) return p.reject(new ServiceError(m.error.code, m.error.message, m.error.remedy));
      try {
        p.resolve(parseResponse(p.channel, m.payload));
      } catch (e) {
        p.reject(e as Error);
      }
    } catch (e) {
      this.onProtocolError?.(e as Error);
    }
  }

  private closed(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    const err = new ServiceError('io', `the connection to the Chronodisk service closed: ${reason}`);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.onClosed?.(reason);
  }
}

/** Whether `name` is a channel of the table (for bridges that forward by name). */
export { isRequestChannel, isEventChannel };
