/**
 * A minimal NBD client over a raw socket, for tests that must send what real clients
 * never would (bad magic, oversize requests, half a write) and read the exact replies.
 */
import net from 'node:net';
import { ByteQueue } from '../../electron/engine/nbd/byte-queue.js';
import * as P from '../../electron/engine/nbd/protocol.js';

export class RawClient {
  private readonly q = new ByteQueue();
  private wake?: () => void;
  private ended = false;
  readonly closed: Promise<void>;
  private cookie = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.q.push(c);
      this.wake?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Exactly n bytes, or an error once the server has hung up. */
  async read(n: number): Promise<Buffer> {
    while (this.q.length < n) {
      if (this.ended) throw new Error(`connection closed with ${this.q.length} of ${n} bytes`);
      await new Promise<void>((r) => (this.wake = r));
    }
    return this.q.take(n);
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Reads the greeting and sends client flags. */
  async hello(flags = P.CLIENT_FLAG_FIXED_NEWSTYLE | P.CLIENT_FLAG_NO_ZEROES): Promise<void> {
    const g = await this.read(18);
    if (!g.subarray(0, 8).equals(P.NBDMAGIC)) throw new Error('bad greeting');
    const b = Buffer.alloc(4);
    b.writeUInt32BE(flags);
    this.write(b);
  }

  sendOption(option: number, data: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.alloc(16);
    P.IHAVEOPT.copy(h, 0);
    h.writeUInt32BE(option, 8);
    h.writeUInt32BE(data.length, 12);
    this.write(Buffer.concat([h, data]));
  }

  async optionReply(): Promise<{ option: number; type: number; data: Buffer }> {
    const h = await this.read(20);
    if (h.readBigUInt64BE(0) !== P.OPTION_REPLY_MAGIC) throw new Error('bad option reply magic');
    const data = await this.read(h.readUInt32BE(16));
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data };
  }

  /** Full handshake with NBD_OPT_GO; returns the export size and transmission flags. */
  async open(name: string, structured = false, metaContexts?: string[]): Promise<{ size: number; flags: number; contexts: Map<string, number> }> {
    await this.hello();
    if (structured) {
      this.sendOption(P.OPT_STRUCTURED_REPLY);
      const r = await this.optionReply();
      if (r.type !== P.REP_ACK) throw new Error('structured replies refused');
    }
    const contexts = new Map<string, number>();
    if (metaContexts) {
      const n = Buffer.from(name);
      const qs = metaContexts.map((q) => Buffer.from(q));
      const head = Buffer.alloc(8 + n.length);
      head.writeUInt32BE(n.length, 0);
      n.copy(head, 4);
      head.writeUInt32BE(qs.length, 4 + n.length);
      const body = qs.flatMap((q) => {
        const l = Buffer.alloc(4);
        l.writeUInt32BE(q.length);
        return [l, q];
      });
      this.sendOption(P.OPT_SET_META_CONTEXT, Buffer.concat([head, ...body]));
      for (;;) {
        const r = await this.optionReply();
        if (r.type === P.REP_META_CONTEXT) contexts.set(r.data.subarray(4).toString(), r.data.readUInt32BE(0));
        else if (r.type === P.REP_ACK) break;
        else throw new Error(`SET_META_CONTEXT refused: ${r.type.toString(16)}`);
      }
    }
    const n = Buffer.from(name);
    const d = Buffer.alloc(4 + n.length + 2);
    d.writeUInt32BE(n.length, 0);
    n.copy(d, 4);
    this.sendOption(P.OPT_GO, d);
    let size = -1;
    let flags = 0;
    for (;;) {
      const r = await this.optionReply();
      if (r.type === P.REP_INFO && r.data.readUInt16BE(0) === P.INFO_EXPORT) {
        size = Number(r.data.readBigUInt64BE(2));
        flags = r.data.readUInt16BE(10);
      } else if (r.type === P.REP_ACK) {
        return { size, flags, contexts };
      } else if (r.type !== P.REP_INFO) {
        throw new Error(`GO refused: ${r.type.toString(16)} ${r.data.toString()}`);
      }
    }
  }

  /** Sends a request; returns its cookie. */
  request(type: number, offset: number, length: number, flags = 0, payload?: Buffer): Buffer {
    const cookie = Buffer.alloc(8);
    cookie.writeUInt32BE(++this.cookie, 4);
    const h = P.encodeRequestHeader({ flags, type, cookie, offset, length });
    this.write(payload ? Buffer.concat([h, payload]) : h);
    return cookie;
  }

  /** A simple reply; `readLength` is how many data bytes follow a successful READ. */
  async simpleReply(readLength = 0): Promise<{ error: number; cookie: Buffer; data: Buffer }> {
    const h = await this.read(16);
    if (h.readUInt32BE(0) !== P.SIMPLE_REPLY_MAGIC) throw new Error(`bad reply magic ${h.readUInt32BE(0).toString(16)}`);
    const error = h.readUInt32BE(4);
    const data = error === 0 && readLength > 0 ? await this.read(readLength) : Buffer.alloc(0);
    return { error, cookie: h.subarray(8, 16), data };
  }

  /** One structured reply chunk. */
  async chunk(): Promise<{ flags: number; type: number; cookie: Buffer; payload: Buffer }> {
    const h = await this.read(20);
    if (h.readUInt32BE(0) !== P.STRUCTURED_REPLY_MAGIC) throw new Error('bad chunk magic');
    const payload = await this.read(h.readUInt32BE(16));
    return { flags: h.readUInt16BE(4), type: h.readUInt16BE(6), cookie: h.subarray(8, 16), payload };
  }
}
