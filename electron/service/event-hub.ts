import { parseEvent, type EventChannel, type EventOf } from '../../shared/contract.js';

export type EventListener = <E extends EventChannel>(channel: E, payload: EventOf<E>) => void;

/**
 * The service's events, checked against the contract once and handed to every
 * subscriber (each client connection, the verb's own log). A subscriber that throws is
 * its own problem: the others still get the event.
 */
export class EventHub {
  private listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  emit<E extends EventChannel>(channel: E, payload: EventOf<E>): void {
    const checked = parseEvent(channel, payload);
    for (const l of [...this.listeners]) {
      try {
        l(channel, checked);
      } catch {
        // a broken subscriber (a closed connection) is dropped by its own close handling
      }
    }
  }
}
