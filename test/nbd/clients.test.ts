/**
 * The NBD server against real clients: nbdinfo, nbdcopy, qemu-img, qemu-io and nbdsh.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { ExportTable } from '../../electron/engine/nbd/export.js';
import { FileExport } from '../../electron/engine/nbd/file-export.js';
import { withOverlay } from '../../electron/engine/nbd/overlay-export.js';
import { NbdServer, type Listening } from '../../electron/engine/nbd/server.js';
import { SourceExport } from '../../electron/engine/nbd/source-export.js';
import { fileSha256, nbdsh, run, runOk, sha256, tempDir, writeRandomImage } from './fixtures.js';

const SIZE = 24 * 1024 * 1024 + 4096;

describe('NBD server with real clients', () => {
  const tmp = tempDir();
  const image = join(tmp.dir, 'disk.img');
  const rwImage = join(tmp.dir, 'rw.img');
  let original: Buffer;
  let source: FileSource;
  let server: NbdServer;
  let overlayServer: NbdServer;
  let at: Listening;
  let overlayAt: Listening;

  beforeAll(async () => {
    original = writeRandomImage(image, SIZE);
    writeRandomImage(rwImage, 8 << 20);
    source = new FileSource(image);
    const table = new ExportTable([
      { name: 'disk@42', description: 'disk at point 42 (2026-11-25T03:00:00Z)', open: () => new SourceExport(source) },
      { name: 'file-ro', description: 'the image file, read-only', open: () => FileExport.open(image, { readOnly: true }) },
      { name: 'file-rw', description: 'a scratch image, read-write', open: () => FileExport.open(rwImage) },
    ]);
    server = new NbdServer({ provider: table });
    at = await server.listen({ socket: join(tmp.dir, 'nbd.sock') });
    overlayServer = new NbdServer({ provider: withOverlay(table) });
    overlayAt = await overlayServer.listen({ socket: join(tmp.dir, 'overlay.sock') });
  });

  afterAll(async () => {
    await server?.close();
    await overlayServer?.close();
    source?.close();
    tmp.cleanup();
  });

  it('creates the unix socket with mode 0600', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(at.socket!).mode & 0o777).toBe(0o600);
  });

  it('nbdinfo --list shows every export with its description', async () => {
    const out = await runOk('nbdinfo', ['--list', '--json', at.uri()]);
    const list = JSON.parse(out) as { exports: Array<{ 'export-name': string; description?: string; 'export-size': number }> };
    const byName = new Map(list.exports.map((e) => [e['export-name'], e]));
    expect([...byName.keys()].sort()).toEqual(['disk@42', 'file-ro', 'file-rw']);
    expect(byName.get('disk@42')!.description).toBe('disk at point 42 (2026-11-25T03:00:00Z)');
    expect(byName.get('disk@42')!['export-size']).toBe(SIZE);
  });

  it('nbdinfo --json reports size, read-only and the default export', async () => {
    const info = JSON.parse(await runOk('nbdinfo', ['--json', at.uri('disk@42')]));
    const e = info.exports[0];
    expect(e['export-size']).toBe(SIZE);
    expect(e['is_read_only']).toBe(true);
    expect(e['can_multi_conn']).toBe(true);
    const dflt = JSON.parse(await runOk('nbdinfo', ['--json', at.uri('')]));
    expect(dflt.exports[0]['export-size']).toBe(SIZE);
    const rw = JSON.parse(await runOk('nbdinfo', ['--json', at.uri('file-rw')]));
    expect(rw.exports[0]['is_read_only']).toBe(false);
    expect(rw.exports[0]['can_flush']).toBe(true);
    expect(rw.exports[0]['can_zero']).toBe(true);
  });

  it('refuses an unknown export name with a message', async () => {
    const r = await run('nbdinfo', [at.uri('nope')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/No such file.*nope/);
  });

  it('nbdcopy of the read-only source export equals the source byte for byte; qemu-img compare agrees', async () => {
    const out = join(tmp.dir, 'copy.img');
    await runOk('nbdcopy', [at.uri('disk@42'), out]);
    expect(fileSha256(out)).toBe(sha256(original));
    await runOk('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', at.uri('disk@42'), image]);
    await runOk('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', at.uri('file-ro'), out]);
  });

  it('refuses a raw write to a read-only export with EPERM and leaves the data alone', async () => {
    // libnbd checks the read-only flag itself; strict mode off makes it send the write anyway.
    const r = await nbdsh(
      at.uri('disk@42'),
      'h.set_strict_mode(0)\n' +
        'try:\n  h.pwrite(b"\\xff" * 4096, 0)\n  print("WROTE")\n' +
        'except nbd.Error as e:\n  print("ERRNO", e.errno)\n',
    );
    expect(r.stdout.trim()).toBe('ERRNO EPERM');
    const q = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0xff 0 4096', at.uri('file-ro')]);
    expect(q.code + q.stderr + q.stdout).toMatch(/read-only|Operation not permitted|Permission denied/i);
    expect(sha256(readFileSync(image))).toBe(sha256(original));
    expect(fileSha256(join(tmp.dir, 'copy.img'))).toBe(sha256(original));
  });

  it('with the overlay, qemu-io writes read back on that connection and a new connection sees the original', async () => {
    const uri = overlayAt.uri('disk@42');
    const out = await runOk('qemu-io', [
      '-f', 'raw',
      '-c', 'write -P 0xab 0 65536',
      '-c', 'write -P 0xcd 1000 100', // partial block: copy-up must keep the bytes around it
      '-c', 'read -P 0xab 0 1000',
      '-c', 'read -P 0xcd 1000 100',
      '-c', 'read -P 0xab 1100 64436',
      '-c', `write -z ${4 << 20} ${1 << 20}`,
      '-c', `read -P 0 ${4 << 20} ${1 << 20}`,
      uri,
    ]);
    expect(out).not.toMatch(/Pattern verification failed|error/i);
    const copy = join(tmp.dir, 'after-overlay.img');
    await runOk('nbdcopy', [uri, copy]);
    expect(fileSha256(copy)).toBe(sha256(original));
    expect(sha256(readFileSync(image))).toBe(sha256(original));
  });

  it('a read-write file export takes writes, flushes, zeroes and trims that a new connection reads back', async () => {
    const r = await nbdsh(
      at.uri('file-rw'),
      'h.zero(8 << 20, 0)\n' + // the whole image: fallocate --punch-hole
        'h.pwrite(b"\\x5a" * 8192, 4096, nbd.CMD_FLAG_FUA)\n' +
        // libnbd takes (count, offset)
        'h.zero(1 << 20, 2 << 20)\n' +
        'h.zero(1 << 20, 3 << 20, nbd.CMD_FLAG_NO_HOLE)\n' +
        'h.zero(3000, 5 << 20)\n' +
        'h.trim(1 << 20, 6 << 20)\n' +
        'h.flush()\n' +
        'print("OK")\n',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('OK');
    const back = await nbdsh(at.uri('file-rw'), 'import hashlib\nprint(hashlib.sha256(h.pread(8192, 4096)).hexdigest())\nprint(h.pread(2 << 20, 2 << 20) == bytes(2 << 20) and h.pread(3000, 5 << 20) == bytes(3000))');
    expect(back.stdout.trim().split('\n')).toEqual([sha256(Buffer.alloc(8192, 0x5a)), 'True']);
    const onDisk = readFileSync(rwImage);
    expect(sha256(onDisk.subarray(4096, 4096 + 8192))).toBe(sha256(Buffer.alloc(8192, 0x5a)));
    expect(onDisk.subarray(2 << 20, 4 << 20).equals(Buffer.alloc(2 << 20))).toBe(true);
  });

  it('nbdcopy --flush into the read-write export lands byte for byte (pipelined multi-chunk writes)', async () => {
    const src = join(tmp.dir, 'incoming.img');
    const data = writeRandomImage(src, 8 << 20);
    await runOk('nbdcopy', ['--flush', '--request-size=1048576', src, at.uri('file-rw')]);
    expect(fileSha256(rwImage)).toBe(sha256(data));
    await runOk('nbdcopy', ['--flush', src, at.uri('file-rw')]);
    await runOk('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', at.uri('file-rw'), src]);
  });

  it('answers out-of-range requests with EINVAL/ENOSPC and keeps the connection', async () => {
    const r = await nbdsh(
      at.uri('file-rw'),
      'h.set_strict_mode(0)\n' +
        'for f in (lambda: h.pread(4096, (8 << 20) - 100), lambda: h.pwrite(b"x" * 4096, 8 << 20), lambda: h.trim(8192, (8 << 20) - 4096)):\n' +
        '  try:\n    f()\n    print("OK")\n  except nbd.Error as e:\n    print(e.errno)\n' +
        'print(len(h.pread(512, 0)))\n',
    );
    expect(r.stdout.trim().split('\n')).toEqual(['EINVAL', 'ENOSPC', 'EINVAL', '512']);
  });
});
