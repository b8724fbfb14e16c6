import type { WebSocket } from 'ws';
import { MessageTransport } from './message-transport.js';

/**
 * The contract over a WebSocket (package ws): one envelope per text frame. Used by the
 * browser UI's server side and by tests' clients. A binary frame is taken as text, so
 * the router refuses it like any other message that is not an envelope.
 */
export class WebSocketTransport extends MessageTransport {
  constructor(private readonly ws: WebSocket) {
    super();
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      this.receive(buf.toString('utf8'));
    });
    ws.on('close', (code, reason) => this.ended(`closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`));
    ws.on('error', (e) => this.ended(e.message));
  }

  send(text: string): void {
    if (this.closeReason !== undefined) throw new Error(`connection closed: ${this.closeReason}`);
    this.ws.send(text);
  }

  close(): void {
    this.ws.close(1000, 'closed');
  }

  destroy(reason: string): void {
    this.ws.terminate();
    this.ended(reason);
  }

  /** Bytes queued and not yet sent: a slow reader's backlog. */
  get backlog(): number {
    return this.ws.bufferedAmount;
  }
}
