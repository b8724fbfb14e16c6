/**
 * Hostile and broken clients: each gets an error reply or a closed connection; the server
 * stays up, serves real clients afterwards, and no data is harmed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { ExportTable } from '../../electron/engine/nbd/export.js';
import { SourceExport } from '../../electron/engine/nbd/source-export.js';
import { FileExport } from '../../electron/engine/nbd/file-export.js';
import * as P from '../../electron/engine/nbd/protocol.js';
import { NbdServer, type Listening } from '../../electron/engine/nbd/server.js';
import { fileSha256, runOk, sha256, tempDir, writeRandomImage } from './fixtures.js';
import { RawClient } from './raw-client.js';

const SIZE = 4 << 20;

describe('NBD server against hostile clients', () => {
  const tmp = tempDir();
  const roImage = join(tmp.dir, 'ro.img');
  const rwImage = join(tmp.dir, 'rw.img');
  let roSha: string;
  let rwData: Buffer;
  let server: NbdServer;
  let at: Listening;

  beforeAll(async () => {
    roSha = sha256(writeRandomImage(roImage, SIZE));
    rwData = writeRandomImage(rwImage, SIZE);
    const table = new ExportTable([
      { name: 'ro', description: 'read-only', open: () => FileExport.open(roImage, { readOnly: true }) },
      { name: 'rw', description: 'read-write', open: () => FileExport.open(rwImage) },
      {
        name: 'aligned',
        open: () => {
          const src = new FileSource(roImage);
          return new SourceExport(src, { blockSizes: { minimum: 4096, preferred: 65536 }, close: () => src.close() });
        },
      },
    ]);
    server = new NbdServer({ provider: table, handshakeTimeoutMs: 1500 });
    at = await server.listen({ socket: join(tmp.dir, 'nbd.sock') });
  });

  afterAll(async () => {
    await server?.close();
    tmp.cleanup();
  });

  const connect = () => RawClient.connect(at.socket!);

  async function stillServes(): Promise<void> {
    const info = JSON.parse(await runOk('nbdinfo', ['--json', at.uri('ro')]));
    expect(info.exports[0]['export-size']).toBe(SIZE);
  }

  it('hangs up on bad client flags and on a bad option magic', async () => {
    const a = await connect();
    await a.hello(0xffff_ffff);
    await a.closed;
    const b = await connect();
    await b.hello();
    b.write(Buffer.from('NOTMAGIC\0\0\0\x07\0\0\0\0'));
    await b.closed;
    await stillServes();
  });

  it('answers an unknown option with NBD_REP_ERR_UNSUP and then proceeds', async () => {
    const c = await connect();
    await c.hello();
    c.sendOption(0x4242, Buffer.from('whatever'));
    const r = await c.optionReply();
    expect(r.option).toBe(0x4242);
    expect(r.type).toBe(P.REP_ERR_UNSUP);
    c.sendOption(P.OPT_LIST, Buffer.from('x')); // LIST takes no data
    expect((await c.optionReply()).type).toBe(P.REP_ERR_INVALID);
    c.sendOption(P.OPT_GO, Buffer.from([0, 0, 0, 9, 1])); // truncated
    expect((await c.optionReply()).type).toBe(P.REP_ERR_INVALID);
    c.sendOption(P.OPT_INFO, Buffer.alloc(70_000)); // too big to buffer: skipped and refused
    expect((await c.optionReply()).type).toBe(P.REP_ERR_TOO_BIG);
    c.sendOption(P.OPT_STARTTLS);
    expect((await c.optionReply()).type).toBe(P.REP_ERR_POLICY);
    c.sendOption(P.OPT_ABORT);
    expect((await c.optionReply()).type).toBe(P.REP_ACK);
    await c.closed;
  });

  it('drops a client that never finishes the handshake', async () => {
    const c = await connect();
    await c.read(18);
    await c.closed; // handshakeTimeoutMs
  });

  it('refuses oversize and out-of-range requests and keeps the connection usable', async () => {
    const c = await connect();
    const { size } = await c.open('rw');
    expect(size).toBe(SIZE);
    c.request(P.CMD_READ, 0, 64 << 20);
    expect((await c.simpleReply()).error).toBe(P.NBD_EINVAL);
    c.request(P.CMD_READ, SIZE - 512, 1024);
    expect((await c.simpleReply()).error).toBe(P.NBD_EINVAL);
    c.request(P.CMD_READ, 2 ** 63, 512);
    expect((await c.simpleReply()).error).toBe(P.NBD_EINVAL);
    c.request(P.CMD_WRITE, SIZE - 100, 4096, 0, Buffer.alloc(4096, 1));
    expect((await c.simpleReply()).error).toBe(P.NBD_ENOSPC);
    c.request(P.CMD_WRITE, 0, 40 << 20, 0, Buffer.alloc(40 << 20, 2)); // over 32 MiB: read and thrown away
    expect((await c.simpleReply()).error).toBe(P.NBD_EINVAL);
    c.request(P.CMD_WRITE_ZEROES, SIZE, 1);
    expect((await c.simpleReply()).error).toBe(P.NBD_ENOSPC);
    c.request(99, 0, 0);
    expect((await c.simpleReply()).error).toBe(P.NBD_EINVAL);
    c.request(P.CMD_READ, 0, 512, 0x8000); // unknown flag
    expect((await c.simpleReply()).error).toBe(P.NBD_EINVAL);
    c.request(P.CMD_FLUSH, 5, 0);
    expect((await c.simpleReply()).error).toBe(P.NBD_EINVAL);
    c.request(P.CMD_READ, 4096, 4096);
    const ok = await c.simpleReply(4096);
    expect(ok.error).toBe(0);
    expect(ok.data.equals(rwData.subarray(4096, 8192))).toBe(true);
    c.request(P.CMD_DISC, 0, 0);
    await c.closed;
    expect(readFileSync(rwImage).equals(rwData)).toBe(true);
  });

  it('answers EPERM to writes on a read-only export, in structured form too', async () => {
    const c = await connect();
    const { flags } = await c.open('ro', true);
    expect(flags & P.TF_READ_ONLY).toBeTruthy();
    c.request(P.CMD_WRITE, 0, 4096, 0, Buffer.alloc(4096, 0xee));
    const e = await c.chunk();
    expect(e.type).toBe(P.REPLY_TYPE_ERROR);
    expect(e.payload.readUInt32BE(0)).toBe(P.NBD_EPERM);
    c.request(P.CMD_WRITE_ZEROES, 0, 4096);
    expect((await c.chunk()).payload.readUInt32BE(0)).toBe(P.NBD_EPERM);
    c.request(P.CMD_TRIM, 0, 4096);
    expect((await c.chunk()).payload.readUInt32BE(0)).toBe(P.NBD_EPERM);
    c.request(P.CMD_READ, 0, 64 << 20);
    expect((await c.chunk()).payload.readUInt32BE(0)).toBe(P.NBD_EOVERFLOW);
    c.request(P.CMD_READ, 0, 8192);
    const d = await c.chunk();
    expect(d.type).toBe(P.REPLY_TYPE_OFFSET_DATA);
    expect(d.flags & P.REPLY_FLAG_DONE).toBeTruthy();
    expect(sha256(d.payload.subarray(8))).toBe(sha256(readFileSync(roImage).subarray(0, 8192)));
    c.destroy();
    expect(fileSha256(roImage)).toBe(roSha);
  });

  it('advertises block sizes and refuses unaligned requests to an export that has them', async () => {
    const info = JSON.parse(await runOk('nbdinfo', ['--json', at.uri('aligned')]));
    expect(info.exports[0]['block_size_minimum']).toBe(4096);
    expect(info.exports[0]['block_size_preferred']).toBe(65536);
    expect(info.exports[0]['block_size_maximum']).toBe(32 << 20);
    const c = await connect();
    await c.open('aligned');
    c.request(P.CMD_READ, 512, 4096);
    expect((await c.simpleReply()).error).toBe(P.NBD_EINVAL);
    c.request(P.CMD_READ, 4096, 1000);
    expect((await c.simpleReply()).error).toBe(P.NBD_EINVAL);
    c.request(P.CMD_READ, 8192, 4096);
    const ok = await c.simpleReply(4096);
    expect(ok.error).toBe(0);
    expect(ok.data.equals(readFileSync(roImage).subarray(8192, 12288))).toBe(true);
    c.destroy();
  });

  it('hangs up on a write payload too large to skip, and on a bad request magic', async () => {
    const c = await connect();
    await c.open('rw');
    c.request(P.CMD_WRITE, 0, 0xffff_fff0);
    await c.closed;
    const d = await connect();
    await d.open('rw');
    d.write(Buffer.alloc(28, 0x41));
    await d.closed;
    expect(readFileSync(rwImage).equals(rwData)).toBe(true);
  });

  it('a client that disconnects mid-write leaves the data unharmed', async () => {
    for (let i = 0; i < 20; i++) {
      const c = await connect();
      await c.open('rw');
      const h = P.encodeRequestHeader({ flags: 0, type: P.CMD_WRITE, cookie: Buffer.alloc(8), offset: 65536 * i, length: 65536 });
      c.write(Buffer.concat([h, Buffer.alloc(1000 + i * 3000, 0x77)]));
      await new Promise((r) => setTimeout(r, 5));
      c.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(rwImage).equals(rwData)).toBe(true);
    await stillServes();
  });

  it('serves pipelined requests correctly, even when the client reads nothing for a while', async () => {
    const c = await connect();
    await c.open('ro');
    const expected = readFileSync(roImage);
    const n = 600; // well past the in-flight limit: the server must pause, not drop or grow without bound
    const cookies = new Map<string, number>();
    for (let i = 0; i < n; i++) cookies.set(c.request(P.CMD_READ, (i * 65536) % SIZE, 65536).toString('hex'), (i * 65536) % SIZE);
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < n; i++) {
      const r = await c.simpleReply(65536);
      expect(r.error).toBe(0);
      const off = cookies.get(r.cookie.toString('hex'));
      expect(off).toBeDefined();
      cookies.delete(r.cookie.toString('hex'));
      expect(r.data.equals(expected.subarray(off!, off! + 65536))).toBe(true);
    }
    c.request(P.CMD_DISC, 0, 0);
    await c.closed;
  });

  it('drops connections beyond maxConnections at once and keeps serving the rest', async () => {
    const small = new NbdServer({
      provider: new ExportTable([{ name: 'ro', open: () => FileExport.open(roImage, { readOnly: true }) }]),
      maxConnections: 20,
    });
    const l = await small.listen({ socket: join(tmp.dir, 'small.sock') });
    try {
      const clients = await Promise.all(Array.from({ length: 30 }, () => RawClient.connect(l.socket!)));
      const results = await Promise.allSettled(clients.map((c) => c.open('ro')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
      expect(small.connectionCount).toBe(20);
      for (const c of clients) c.destroy();
      for (let i = 0; i < 50 && small.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
      const info = JSON.parse(await runOk('nbdinfo', ['--json', l.uri('ro')]));
      expect(info.exports[0]['export-size']).toBe(SIZE);
    } finally {
      await small.close();
    }
  });

  it('survives 200 concurrent connections, each reading and checking a block', async () => {
    const expected = readFileSync(roImage);
    const clients = await Promise.all(Array.from({ length: 200 }, () => connect()));
    await Promise.all(
      clients.map(async (c, i) => {
        await c.open(i % 2 ? 'ro' : '', i % 3 === 0);
        const off = (i * 4096) % SIZE;
        c.request(P.CMD_READ, off, 4096);
        const data = i % 3 === 0 ? (await c.chunk()).payload.subarray(8) : (await c.simpleReply(4096)).data;
        expect(data.equals(expected.subarray(off, off + 4096))).toBe(true);
      }),
    );
    expect(server.connectionCount).toBe(200);
    for (const c of clients) c.request(P.CMD_DISC, 0, 0);
    await Promise.all(clients.map((c) => c.closed));
    await stillServes();
    for (let i = 0; i < 50 && server.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(server.connectionCount).toBe(0);
    expect(fileSha256(roImage)).toBe(roSha);
    expect(readFileSync(rwImage).equals(rwData)).toBe(true);
  });
});
