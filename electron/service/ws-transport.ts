import type { WebSocket } from 'ws';
import type { ContractTransport } from '../../shared/contract-client.js';

/**
 * The contract over a WebSocket (package ws): one envelope per text frame. Used by the
 * browser UI's server side and by tests' clients. A binary frame is taken as text, so
 * the router refuses it like any other message that is not an envelope.
 */
export class WebSocketTransport implements ContractTransport {
  private receive: (text: string) => void = () => {};
  private closedListeners: Array<(reason: string) => void> = [];
  private closeReason: string | undefined;

  constructor(private readonly ws: WebSocket) {
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

  onMessage(receive: (text: string) => void): void {
    this.receive = receive;
  }

  onClose(closed: (reason: string) => void): void {
    if (this.closeReason !== undefined) closed(this.closeReason);
    else this.closedListeners.push(closed);
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

  private ended(reason: string): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    for (const l of this.closedListeners.splice(0)) l(reason);
  }
}
