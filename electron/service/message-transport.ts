import type { ContractTransport } from '../../shared/contract-client.js';

/**
 * What every transport of whole message texts shares: one receiver of incoming texts,
 * close listeners called once with a one-line reason. Subclasses move the bytes.
 */
export abstract class MessageTransport implements ContractTransport {
  protected receive: (text: string) => void = () => {};
  private closedListeners: Array<(reason: string) => void> = [];
  protected closeReason: string | undefined;

  abstract send(text: string): void;
  abstract close(): void;

  onMessage(receive: (text: string) => void): void {
    this.receive = receive;
  }

  onClose(closed: (reason: string) => void): void {
    if (this.closeReason !== undefined) closed(this.closeReason);
    else this.closedListeners.push(closed);
  }

  protected ended(reason: string): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    for (const l of this.closedListeners.splice(0)) l(reason);
  }
}
