/**
 * The file export over a real block device (a loop device): size from sysfs, reads,
 * writes, and zeroing/trimming through fallocate(1) on the device.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExportTable } from '../../electron/engine/nbd/export.js';
import { FileExport } from '../../electron/engine/nbd/file-export.js';
import { NbdServer } from '../../electron/engine/nbd/server.js';
import { fileSha256, nbdsh, run, runOk, sha256, tempDir, writeRandomImage } from './fixtures.js';

const SIZE = 16 << 20;

describe('file export over a block device', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('serves a loop device: size, reads, writes, zeroes', async () => {
    const image = join(tmp.dir, 'disk.img');
    const data = writeRandomImage(image, SIZE);
    const loop = (await runOk('losetup', ['-f', '--show', image])).trim();
    const server = new NbdServer({ provider: new ExportTable([{ name: 'dev', open: () => FileExport.open(loop) }]) });
    try {
      const probe = FileExport.open(loop, { readOnly: true });
      expect(probe.size).toBe(SIZE);
      expect(probe.isBlockDevice).toBe(true);
      await probe.close();

      const at = await server.listen({ socket: join(tmp.dir, 'nbd.sock') });
      const copy = join(tmp.dir, 'copy.img');
      await runOk('nbdcopy', [at.uri('dev'), copy]);
      expect(fileSha256(copy)).toBe(sha256(data));

      const r = await nbdsh(
        at.uri('dev'),
        'h.zero(8 << 20, 0)\n' + // large: fallocate --punch-hole on the device
          'h.zero(8 << 20, 8 << 20, nbd.CMD_FLAG_NO_HOLE | nbd.CMD_FLAG_FAST_ZERO)\n' + // --zero-range
          'h.pwrite(b"\\x11" * 65536, 65536, nbd.CMD_FLAG_FUA)\n' +
          'h.zero(3000, 1 << 20)\n' + // small: plain writes
          'h.flush()\nprint("OK")\n',
      );
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('OK');
      data.fill(0);
      data.fill(0x11, 65536, 131072);
      expect(sha256(readFileSync(loop))).toBe(sha256(data));
    } finally {
      await server.close();
      await run('losetup', ['-d', loop]);
    }
  });
});
