/**
 * The service socket's framing: one JSON envelope per line (NDJSON), over any duplex
 * stream (a unix socket here). Lines longer than MAX_ENVELOPE_CHARS end the connection:
 * a peer that never sends a newline cannot make us buffer without bound.
 */
import type { Duplex } from 'node:stream';
import { MAX_ENVELOPE_CHARS } from '../../shared/contract.js';
import { MessageTransport } from './message-transport.js';

export class NdjsonTransport extends MessageTransport {
  /**
   * The pieces of a line not ended yet. Kept apart, and only the new chunk searched for a
   * newline: joining and searching the whole line on every chunk cost time quadratic in
   * its length (a 16 MiB line took seconds).
   */
  private partial: string[] = [];
  private partialLength = 0;

  constructor(private readonly stream: Duplex) {
    super();
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
    let from = 0;
    let nl: number;
    while ((nl = chunk.indexOf('\n', from)) >= 0) {
      const tail = chunk.slice(from, nl);
      const line = this.partial.length ? this.partial.join('') + tail : tail;
      this.partial = [];
      this.partialLength = 0;
      from = nl + 1;
      if (line.trim() !== '') this.receive(line);
      if (this.closeReason !== undefined) return;
    }
    const rest = chunk.slice(from);
    this.partialLength += rest.length;
    if (this.partialLength > MAX_ENVELOPE_CHARS) {
      this.stream.destroy();
      this.ended(`a message of more than ${MAX_ENVELOPE_CHARS} characters`);
      return;
    }
    if (rest) this.partial.push(rest);
  }
}
