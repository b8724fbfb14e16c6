/**
 * The main process's one connection to the privileged service, kept up: it connects to
 * the service's unix socket, and whenever the connection fails or closes (the service
 * restarted, was stopped, is not installed) it says so and tries again, at growing
 * intervals up to a few seconds. Events of whichever connection is current reach the
 * same listeners, so a subscriber never has to subscribe again after a reconnect.
 */
import type { ContractApi, ContractClient } from '../../shared/contract-client.js';
import { ServiceError } from '../../shared/contract-client.js';
import {
  events,
  type EventChannel,
  type EventOf,
  type RequestChannel,
  type RequestOf,
  type ResponseOf,
  type ServiceConnection as ConnectionState,
} from '../../shared/contract.js';
import { connectService } from '../service/service-socket-client.js';

export interface ServiceConnectionOptions {
  socketPath: string;
  /** First retry after this many ms; doubled after each failure up to retryMaxMs. */
  retryMs?: number;
  retryMaxMs?: number;
  connectTimeoutMs?: number;
  /** How to open one connection (the service socket client unless a test says otherwise). */
  connect?: (socketPath: string, timeoutMs: number) => Promise<ContractClient>;
}

type AnyEventListener = (channel: EventChannel, payload: unknown) => void;

export class ServiceConnection implements ContractApi {
  private client: ContractClient | undefined;
  private current: ConnectionState;
  private retryTimer: NodeJS.Timeout | undefined;
  private nextRetryMs: number;
  private attempt: Promise<void> | undefined;
  private stopped = false;
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly eventListeners = new Set<AnyEventListener>();
  private readonly retryMs: number;
  private readonly retryMaxMs: number;
  private readonly connectTimeoutMs: number;
  private readonly connectOnce: (socketPath: string, timeoutMs: number) => Promise<ContractClient>;

  constructor(private readonly options: ServiceConnectionOptions) {
    this.retryMs = options.retryMs ?? 250;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.connectOnce = options.connect ?? connectService;
    this.nextRetryMs = this.retryMs;
    this.current = { state: 'connecting', socket: options.socketPath };
  }

  get state(): ConnectionState {
    return this.current;
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  /** Starts connecting (and keeps reconnecting until close()). */
  start(): void {
    void this.connectNow();
  }

  /** Tries at once instead of at the next retry (after the service was started). */
  connectNow(): Promise<void> {
    if (this.stopped || this.client) return Promise.resolve();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.attempt ??= this.tryConnect().finally(() => (this.attempt = undefined));
    return this.attempt;
  }

  /** Resolves when connected, or with false after timeoutMs. */
  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.current.state === 'connected') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, timeoutMs);
      const off = this.onState((s) => {
        if (s.state !== 'connected') return;
        clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => void this.stateListeners.delete(listener);
  }

  /** Every event of the service, whatever its channel (for the bridge to the window). */
  onAnyEvent(listener: AnyEventListener): () => void {
    this.eventListeners.add(listener);
    return () => void this.eventListeners.delete(listener);
  }

  on<E extends EventChannel>(channel: E, listener: (payload: EventOf<E>) => void): () => void {
    return this.onAnyEvent((c, payload) => {
      if (c === channel) listener(payload as EventOf<E>);
    });
  }

  request<C extends RequestChannel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>> {
    if (!this.client) {
      const why = this.current.reason ?? 'still connecting';
      return Promise.reject(new ServiceError('io', `not connected to the Chronodisk service: ${why}`));
    }
    return this.client.request(channel, payload);
  }

  close(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const c = this.client;
    this.client = undefined;
    c?.close();
  }

  private async tryConnect(): Promise<void> {
    let client: ContractClient;
    try {
      client = await this.connectOnce(this.options.socketPath, this.connectTimeoutMs);
    } catch (e) {
      this.lost((e as Error).message);
      return;
    }
    if (this.stopped) {
      client.close();
      return;
    }
    this.client = client;
    this.nextRetryMs = this.retryMs;
    client.onClosed = (reason) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.lost(`the connection to the Chronodisk service closed: ${reason}`);
    };
    client.onProtocolError = (e) => console.warn(`chronodisk: refused a message from the service: ${e.message}`);
    for (const channel of Object.keys(events) as EventChannel[]) {
      if (channel === 'serviceConnection') continue; // ours to say, not the service's
      client.on(channel, (payload) => this.emitEvent(channel, payload));
    }
    this.setState({ state: 'connected', socket: this.options.socketPath });
  }

  private lost(reason: string): void {
    if (this.stopped) return;
    this.setState({ state: 'disconnected', socket: this.options.socketPath, reason: reason.split('\n')[0]! });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connectNow();
    }, this.nextRetryMs);
    this.nextRetryMs = Math.min(this.nextRetryMs * 2, this.retryMaxMs);
  }

  private setState(next: ConnectionState): void {
    const same = next.state === this.current.state && next.reason === this.current.reason;
    this.current = next;
    if (same) return;
    for (const l of [...this.stateListeners]) l(next);
  }

  private emitEvent(channel: EventChannel, payload: unknown): void {
    for (const l of [...this.eventListeners]) {
      try {
        l(channel, payload);
      } catch (e) {
        console.warn(`chronodisk: a ${channel} listener failed: ${(e as Error).message}`);
      }
    }
  }
}
