/**
 * serveImages: several named sources at once, listed with descriptions, read-only or under
 * a per-connection overlay.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { serveImages } from '../../electron/engine/nbd/serve-images.js';
import { fileSha256, nbdsh, run, runOk, sha256, tempDir, writeRandomImage } from './fixtures.js';

describe('serveImages', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('serves named images read-only, or each connection under its own overlay', async () => {
    const a = join(tmp.dir, 'a.img');
    const b = join(tmp.dir, 'b.img');
    const aSha = sha256(writeRandomImage(a, 2 << 20));
    writeRandomImage(b, 3 << 20);
    const sa = new FileSource(a);
    const sb = new FileSource(b);
    const images = [
      { name: 'sda@10', description: 'sda at point 10', source: sa },
      { name: 'sdb@-1h', description: 'sdb at point 7 (2026-11-25T03:00:00Z)', source: sb },
    ];
    const ro = await serveImages(images, { socket: join(tmp.dir, 'ro.sock') });
    const ov = await serveImages(images, { socket: join(tmp.dir, 'ov.sock') }, { overlay: true, overlayDir: tmp.dir });
    try {
      const list = JSON.parse(await runOk('nbdinfo', ['--list', '--json', ro.listening.uri()]));
      expect(list.exports.map((e: { description: string }) => e.description).sort()).toEqual(['sda at point 10', 'sdb at point 7 (2026-11-25T03:00:00Z)']);
      const dflt = JSON.parse(await runOk('nbdinfo', ['--json', ro.listening.uri('')]));
      expect(dflt.exports[0]['export-size']).toBe(2 << 20);

      const refused = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x33 0 4096', ro.listening.uri('sda@10')]);
      expect(refused.code + refused.stderr + refused.stdout).toMatch(/read-only|not permitted|Permission denied/i);

      const r = await nbdsh(ov.listening.uri('sda@10'), 'h.pwrite(b"\\x33" * 4096, 0)\nprint(h.pread(4096, 0) == b"\\x33" * 4096)\n');
      expect(r.stdout.trim()).toBe('True');
      const copy = join(tmp.dir, 'copy.img');
      await runOk('nbdcopy', [ov.listening.uri('sda@10'), copy]);
      expect(fileSha256(copy)).toBe(aSha);
      expect(fileSha256(a)).toBe(aSha);
    } finally {
      await ro.server.close();
      await ov.server.close();
      sa.close();
      sb.close();
    }
    await expect(serveImages([], { socket: join(tmp.dir, 'x.sock') })).rejects.toMatchObject({ code: 'usage' });
    await expect(serveImages([images[0], images[0]], { socket: join(tmp.dir, 'x.sock') })).rejects.toMatchObject({ code: 'usage' });
    await expect(serveImages(images, { host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'usage' });
  });
});
