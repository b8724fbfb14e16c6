/**
 * The service socket's framing: one JSON envelope per line (NDJSON), over any duplex
 * stream (a unix socket here). Lines longer than MAX_ENVELOPE_CHARS end the connection:
 * a peer that never sends a newline cannot make us buffer without bound.
 */
import type { Duplex } from 'node:stream';
import type { ContractTransport } from '../../shared/contract-client.js';
import { MAX_ENVELOPE_CHARS } from '../../shared/contract.js';

export class NdjsonTransport implements ContractTransport {
  private partial = '';
  private receive: (text: string) => void = () => {};
  private closedListeners: Array<(reason: string) => void> = [];
  private closeReason: string | undefined;

  constructor(private readonly stream: Duplex) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.data(chunk));
    stream.on('error', (e) => this.ended(e.message));
    stream.on('close', () => this.ended('connection closed'));
  }

  send(text: string): void {
    if (this.closeReason !== undefined) throw new Error(`connection closed: ${this.closeReason}`);
    if (text.includes('\n')) throw new Error('an NDJSON message may not contain a newline');
    this.stream.write(`${text}\n`);
  }

  onMessage(receive: (text: string) => void): void {
    this.receive = receive;
  }

  onClose(closed: (reason: string) => void): void {
    if (this.closeReason !== undefined) closed(this.closeReason);
    else this.closedListeners.push(closed);
  }

  close(): void {
    this.stream.end();
  }

  /** Drops the connection at once, with whatever is still queued (a peer that does not read). */
  destroy(reason = 'closed'): void {
    this.stream.destroy();
    this.ended(reason);
  }

  /** Bytes written but not yet taken by the OS: a slow reader's backlog. */
  get backlog(): number {
    return this.stream.writableLength;
  }

  private data(chunk: string): void {
    let text = this.partial + chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (line.trim() !== '') this.receive(line);
      if (this.closeReason !== undefined) return;
    }
    if (text.length > MAX_ENVELOPE_CHARS) {
      this.stream.destroy();
      this.ended(`a message of more than ${MAX_ENVELOPE_CHARS} characters`);
      return;
    }
    this.partial = text;
  }

  private ended(reason: string): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    for (const l of this.closedListeners.splice(0)) l(reason);
  }
}
