import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NdjsonTransport } from '../../electron/service/ndjson-transport.js';
import { connectService } from '../../electron/service/service-socket-client.js';

/** A real unix-socket peer that answers each request line with `answer(line)`. */
async function peer(answer: (line: string, sock: Socket) => string | undefined): Promise<{ path: string; server: Server; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ndjson-'));
  const path = join(dir, 's.sock');
  const server = createServer((sock) => {
    const t = new NdjsonTransport(sock);
    t.onMessage((line) => {
      const out = answer(line, sock);
      if (out !== undefined) t.send(out);
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server, dir };
}

const open: Array<{ server: Server; dir: string }> = [];
afterEach(() => {
  for (const p of open.splice(0)) {
    p.server.close();
    rmSync(p.dir, { recursive: true, force: true });
  }
});

describe('the service socket (NDJSON over a unix socket)', () => {
  it('carries requests and responses, split or joined across packets', async () => {
    const p = await peer((line, sock) => {
      const m = JSON.parse(line) as { id: number };
      // Two messages in one write, the second cut in half: framing must hold.
      const a = JSON.stringify({ type: 'event', channel: 'disksChanged', payload: {} });
      const b = JSON.stringify({ type: 'response', id: m.id, ok: true, payload: [] });
      sock.write(`${a}\n${b.slice(0, 10)}`);
      setTimeout(() => sock.write(`${b.slice(10)}\n`), 20);
      return undefined;
    });
    open.push(p);
    const client = await connectService(p.path);
    let events = 0;
    client.on('disksChanged', () => events++);
    expect(await client.request('listJobs', {})).toEqual([]);
    expect(events).toBe(1);
    client.close();
  });

  it('says what to do when nothing listens', async () => {
    await expect(connectService('/nonexistent/chronodisk.sock')).rejects.toThrow(/no Chronodisk service listens at \/nonexistent\/chronodisk.sock; start it with/);
  });
});
