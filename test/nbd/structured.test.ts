/**
 * Structured replies: an export that knows its zero runs answers READ with OFFSET_HOLE
 * chunks (no zero bytes on the wire), DF forces one data chunk, and real clients reassemble
 * the same bytes. Also FAST_ZERO and server.close() with clients attached.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllocationExtent, ReadExtent } from '../../electron/engine/nbd/export.js';
import { ExportTable } from '../../electron/engine/nbd/export.js';
import { FileExport } from '../../electron/engine/nbd/file-export.js';
import * as P from '../../electron/engine/nbd/protocol.js';
import { NbdServer, type Listening } from '../../electron/engine/nbd/server.js';
import { SourceExport, type SparseBlockSource } from '../../electron/engine/nbd/source-export.js';
import { fileSha256, nbdsh, runOk, sha256, tempDir, writeRandomImage } from './fixtures.js';
import { RawClient } from './raw-client.js';

const SIZE = 8 << 20;
const RUN = 64 * 1024;

/** Data in even 64 KiB runs, zeroes in odd ones; it says which are which, like a time image would. */
class StripedSource implements SparseBlockSource {
  readonly size = SIZE;
  readonly bytes = Buffer.alloc(SIZE);
  constructor() {
    for (let at = 0; at < SIZE; at += 2 * RUN) this.bytes.fill((at / RUN) % 251 + 1, at, at + RUN);
  }
  async read(offset: number, length: number) {
    return Buffer.from(this.bytes.subarray(offset, offset + length));
  }
  async extents(offset: number, length: number): Promise<AllocationExtent[]> {
    return (await this.readExtents(offset, length)).map((x) => ({ offset: x.offset, length: x.length, zero: !x.data }));
  }
  async readExtents(offset: number, length: number): Promise<ReadExtent[]> {
    const out: ReadExtent[] = [];
    for (let at = offset; at < offset + length; ) {
      const end = Math.min(offset + length, (Math.floor(at / RUN) + 1) * RUN);
      const zero = Math.floor(at / RUN) % 2 === 1;
      out.push(zero ? { offset: at, length: end - at } : { offset: at, length: end - at, data: Buffer.from(this.bytes.subarray(at, end)) });
      at = end;
    }
    return out;
  }
}

describe('NBD structured replies and shutdown', () => {
  const tmp = tempDir();
  const striped = new StripedSource();
  const rwImage = join(tmp.dir, 'rw.img');
  let server: NbdServer;
  let at: Listening;

  beforeAll(async () => {
    writeRandomImage(rwImage, SIZE);
    server = new NbdServer({
      provider: new ExportTable([
        { name: 'striped', description: 'sparse', open: () => new SourceExport(striped) },
        { name: 'rw', open: () => FileExport.open(rwImage) },
      ]),
    });
    at = await server.listen({ socket: join(tmp.dir, 'nbd.sock') });
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('sends zero runs as OFFSET_HOLE chunks that reassemble to the right bytes', async () => {
    const c = await RawClient.connect(at.socket!);
    await c.open('striped', true);
    const off = RUN / 2;
    const len = 5 * RUN;
    c.request(P.CMD_READ, off, len);
    const got = Buffer.alloc(len, 0xee);
    const types: number[] = [];
    for (;;) {
      const ch = await c.chunk();
      types.push(ch.type);
      if (ch.type === P.REPLY_TYPE_OFFSET_DATA) ch.payload.subarray(8).copy(got, Number(ch.payload.readBigUInt64BE(0)) - off);
      else if (ch.type === P.REPLY_TYPE_OFFSET_HOLE) got.fill(0, Number(ch.payload.readBigUInt64BE(0)) - off, Number(ch.payload.readBigUInt64BE(0)) - off + ch.payload.readUInt32BE(8));
      else throw new Error(`unexpected chunk ${ch.type}`);
      if (ch.flags & P.REPLY_FLAG_DONE) break;
    }
    expect(types).toContain(P.REPLY_TYPE_OFFSET_HOLE);
    expect(got.equals(striped.bytes.subarray(off, off + len))).toBe(true);

    c.request(P.CMD_READ, off, len, P.CMD_FLAG_DF); // don't fragment: one data chunk
    const one = await c.chunk();
    expect(one.type).toBe(P.REPLY_TYPE_OFFSET_DATA);
    expect(one.flags & P.REPLY_FLAG_DONE).toBeTruthy();
    expect(one.payload.subarray(8).equals(striped.bytes.subarray(off, off + len))).toBe(true);
    c.request(P.CMD_DISC, 0, 0);
    await c.closed;
  });

  it('answers BLOCK_STATUS for base:allocation: nbdinfo --map and qemu-img map see the holes', async () => {
    const map = JSON.parse(await runOk('nbdinfo', ['--map', '--json', at.uri('striped')])) as Array<{ offset: number; length: number; type: number }>;
    expect(map.length).toBe(SIZE / RUN);
    map.forEach((e, i) => expect([e.offset, e.length, e.type]).toEqual([i * RUN, RUN, i % 2 ? 3 : 0]));
    const qmap = JSON.parse(await runOk('qemu-img', ['map', '--output=json', '-f', 'raw', at.uri('striped')])) as Array<{ start: number; data: boolean; zero: boolean }>;
    expect(qmap.filter((e) => !e.data && e.zero).length).toBe(SIZE / RUN / 2);
    // A file export cannot tell: everything is data.
    const rwMap = JSON.parse(await runOk('nbdinfo', ['--map', '--json', at.uri('rw')]));
    expect(rwMap).toEqual([{ offset: 0, length: SIZE, type: 0, description: 'data' }]);
  });

  it('refuses BLOCK_STATUS without a selected context, and honours REQ_ONE', async () => {
    const plain = await RawClient.connect(at.socket!);
    await plain.open('striped', true);
    plain.request(P.CMD_BLOCK_STATUS, 0, RUN);
    expect((await plain.chunk()).payload.readUInt32BE(0)).toBe(P.NBD_EINVAL);
    plain.destroy();
    const other = await RawClient.connect(at.socket!);
    const { contexts } = await other.open('striped', true, ['base:allocation', 'qemu:dirty-bitmap:x', 'nonsense']);
    expect([...contexts.keys()]).toEqual(['base:allocation']);
    other.request(P.CMD_BLOCK_STATUS, RUN + 100, 3 * RUN, P.CMD_FLAG_REQ_ONE);
    const one = await other.chunk();
    expect(one.type).toBe(P.REPLY_TYPE_BLOCK_STATUS);
    expect(one.payload.readUInt32BE(0)).toBe(contexts.get('base:allocation'));
    expect(one.payload.length).toBe(12);
    expect([one.payload.readUInt32BE(4), one.payload.readUInt32BE(8)]).toEqual([RUN - 100, P.STATE_HOLE | P.STATE_ZERO]);
    other.request(P.CMD_BLOCK_STATUS, SIZE - 512, 1024);
    expect((await other.chunk()).payload.readUInt32BE(0)).toBe(P.NBD_EINVAL);
    other.destroy();
  });

  it('real clients read the sparse export byte for byte', async () => {
    const out = join(tmp.dir, 'striped.img');
    await runOk('nbdcopy', [at.uri('striped'), out]);
    expect(fileSha256(out)).toBe(sha256(striped.bytes));
    await runOk('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', at.uri('striped'), out]);
  });

  it('fails a small FAST_ZERO with ENOTSUP and leaves the data; a large one succeeds', async () => {
    const r = await nbdsh(
      at.uri('rw'),
      'before = h.pread(4096, 0)\n' +
        'try:\n  h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)\n  print("OK")\nexcept nbd.Error as e:\n  print(e.errno)\n' +
        'print(h.pread(4096, 0) == before)\n' +
        'h.zero(8 << 20, 0, nbd.CMD_FLAG_FAST_ZERO)\n' +
        'print(h.pread(8 << 20, 0) == bytes(8 << 20))\n',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['ENOTSUP', 'True', 'True']);
  });

  it('close() ends connections in both phases and removes the socket', async () => {
    const s = new NbdServer({ provider: new ExportTable([{ name: 'striped', open: () => new SourceExport(striped) }]) });
    const l = await s.listen({ socket: join(tmp.dir, 'closing.sock') });
    const inHandshake = await RawClient.connect(l.socket!);
    await inHandshake.hello();
    const inTransmission = await RawClient.connect(l.socket!);
    await inTransmission.open('striped');
    inTransmission.request(P.CMD_READ, 0, 4096);
    expect((await inTransmission.simpleReply(4096)).error).toBe(0);
    await s.close();
    await inHandshake.closed;
    await inTransmission.closed;
    expect(s.connectionCount).toBe(0);
    const { existsSync } = await import('node:fs');
    expect(existsSync(l.socket!)).toBe(false);
  });
});
