/**
 * Where the NBD server may listen: loopback TCP and private unix sockets, nothing else.
 */
import { existsSync, lstatSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenAddress } from '../../electron/cli/nbd-address.js';
import { ChronodiskError } from '../../electron/engine/errors.js';
import { ExportTable } from '../../electron/engine/nbd/export.js';
import { FileExport } from '../../electron/engine/nbd/file-export.js';
import { NbdServer } from '../../electron/engine/nbd/server.js';
import { fileSha256, runOk, tempDir, writeRandomImage } from './fixtures.js';

describe('NBD listen addresses', () => {
  const tmp = tempDir();
  const image = join(tmp.dir, 'disk.img');
  const table = () => new ExportTable([{ name: 'disk', description: 'test disk', open: () => FileExport.open(image, { readOnly: true }) }]);

  beforeAll(() => {
    writeRandomImage(image, 4 << 20);
  });
  afterAll(() => tmp.cleanup());

  it('serves on 127.0.0.1 (nbdinfo and nbdcopy over TCP)', async () => {
    const server = new NbdServer({ provider: table() });
    try {
      const at = await server.listen({ host: '127.0.0.1', port: 0 });
      expect(at.port).toBeGreaterThan(0);
      const info = JSON.parse(await runOk('nbdinfo', ['--json', at.uri('disk')]));
      expect(info.exports[0]['export-size']).toBe(4 << 20);
      const out = join(tmp.dir, 'tcp-copy.img');
      await runOk('nbdcopy', [at.uri('disk'), out]);
      expect(fileSha256(out)).toBe(fileSha256(image));
    } finally {
      await server.close();
    }
  });

  it('serves on ::1', async () => {
    const server = new NbdServer({ provider: table() });
    try {
      const at = await server.listen({ host: '::1', port: 0 });
      const info = JSON.parse(await runOk('nbdinfo', ['--json', at.uri('disk')]));
      expect(info.exports[0]['export-size']).toBe(4 << 20);
    } finally {
      await server.close();
    }
  });

  const lan = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && !a.internal && a.family === 'IPv4')?.address;
  it.each(['0.0.0.0', '::', lan ?? '192.0.2.2', 'example.com'])('refuses to listen on %s with a clear usage error', async (host) => {
    const server = new NbdServer({ provider: table() });
    try {
      const attempt = server.listen({ host, port: 0 });
      await expect(attempt).rejects.toBeInstanceOf(ChronodiskError);
      await expect(attempt).rejects.toMatchObject({ code: 'usage' });
      await expect(attempt).rejects.toThrow(/only 127\.0\.0\.1, ::1 or a unix socket/);
    } finally {
      await server.close();
    }
  });

  it('refuses a socket path too long for sun_path with a usage error', async () => {
    const server = new NbdServer({ provider: table() });
    await expect(server.listen({ socket: join(tmp.dir, 'x'.repeat(120)) })).rejects.toMatchObject({ code: 'usage' });
    await server.close();
  });

  it('--socket in a directory that does not exist is refused, and the directory not made', () => {
    const socket = join(tmp.dir, 'no', 'such', 'dir', 'x.sock');
    expect(() => listenAddress({ socket }, join(tmp.dir, 'default', 'd.sock'))).toThrow(
      new ChronodiskError('not-found', `--socket ${socket}: its directory ${join(tmp.dir, 'no', 'such', 'dir')} does not exist; create it or name another path`),
    );
    expect(existsSync(join(tmp.dir, 'no'))).toBe(false);
    // The default socket's directory is ours, and made when missing.
    expect(listenAddress({}, join(tmp.dir, 'default', 'd.sock'))).toEqual({ socket: join(tmp.dir, 'default', 'd.sock') });
    expect(lstatSync(join(tmp.dir, 'default')).mode & 0o777).toBe(0o700);
  });

  it('replaces a stale socket, refuses a live one and anything that is not a socket', async () => {
    const path = join(tmp.dir, 'reuse.sock');
    const first = new NbdServer({ provider: table() });
    await first.listen({ socket: path });
    const second = new NbdServer({ provider: table() });
    await expect(second.listen({ socket: path })).rejects.toMatchObject({ code: 'busy' });
    await second.close();
    expect(lstatSync(path).isSocket()).toBe(true); // the refused server did not take it away
    await first.close();
    expect(() => lstatSync(path)).toThrow(); // close removes our socket

    // A socket file left by a dead process (bound, nobody listening) is taken over.
    await runOk('/usr/bin/python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`]);
    expect(lstatSync(path).isSocket()).toBe(true);
    const fourth = new NbdServer({ provider: table() });
    const at = await fourth.listen({ socket: path });
    expect(JSON.parse(await runOk('nbdinfo', ['--json', at.uri('disk')])).exports[0]['export-size']).toBe(4 << 20);
    await fourth.close();

    const plain = join(tmp.dir, 'plain-file');
    writeFileSync(plain, 'not a socket');
    const third = new NbdServer({ provider: table() });
    await expect(third.listen({ socket: plain })).rejects.toMatchObject({ code: 'exists' });
    await third.close();
  });
});
