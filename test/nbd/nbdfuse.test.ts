/**
 * Real kernel I/O through our NBD server: nbdfuse exposes the export as a file, a loop
 * device sits on it, and mkfs.ext4, mount, cp, umount and e2fsck all go through the server.
 * The image is then checked by a second path: mounted directly from its backing file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExportTable } from '../../electron/engine/nbd/export.js';
import { FileExport } from '../../electron/engine/nbd/file-export.js';
import { NbdServer } from '../../electron/engine/nbd/server.js';
import { fileSha256, makeTree, run, runOk, tempDir, waitFor } from './fixtures.js';



describe('NBD server under a kernel filesystem (nbdfuse + loop)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('mkfs.ext4, mount, copy a tree, umount through the server; e2fsck clean; a second path reads the same', async () => {
    const image = join(tmp.dir, 'disk.img');
    await runOk('truncate', ['-s', '96M', image]);
    const tree = join(tmp.dir, 'tree');
    makeTree(tree, 6, 25, 300_000);
    writeFileSync(join(tree, 'empty'), '');
    const fuseDir = join(tmp.dir, 'fuse');
    const mnt = join(tmp.dir, 'mnt');
    mkdirSync(fuseDir);
    mkdirSync(mnt);
    const pidfile = join(tmp.dir, 'nbdfuse.pid');

    const server = new NbdServer({ provider: new ExportTable([{ name: 'disk', open: () => FileExport.open(image) }]) });
    const at = await server.listen({ socket: join(tmp.dir, 'nbd.sock') });
    let fuse: ChildProcess | undefined;
    let fuseMounted = false;
    let loop = '';
    let mounted = false;
    try {
      fuse = spawn('nbdfuse', ['-P', pidfile, join(fuseDir, 'disk'), at.uri('disk')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let fuseErr = '';
      fuse.stderr!.on('data', (c) => (fuseErr += c));
      await waitFor(() => existsSync(pidfile) || fuse!.exitCode !== null, 20_000, 'nbdfuse');
      expect(fuseErr).toBe('');
      fuseMounted = true;

      loop = (await runOk('losetup', ['-f', '--show', join(fuseDir, 'disk')])).trim();
      await runOk('mkfs.ext4', ['-q', '-F', '-L', 'nbdtest', loop]);
      await runOk('mount', [loop, mnt]);
      mounted = true;
      await runOk('cp', ['-a', `${tree}/.`, mnt]);
      await runOk('sync', []);
      await runOk('umount', [mnt]);
      mounted = false;
      const fsck = await run('e2fsck', ['-fn', loop]);
      expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
      await runOk('losetup', ['-d', loop]);
      loop = '';
      await runOk('umount', [fuseDir]);
      fuseMounted = false;
      await waitFor(() => fuse!.exitCode !== null, 10_000, 'nbdfuse to exit');

      // Second path: the backing file itself, checked and mounted without the server.
      const direct = await run('e2fsck', ['-fn', image]);
      expect(direct.code, direct.stdout + direct.stderr).toBe(0);
      const copy = join(tmp.dir, 'copy.img');
      await runOk('nbdcopy', [at.uri('disk'), copy]);
      expect(fileSha256(copy)).toBe(fileSha256(image));
      loop = (await runOk('losetup', ['-r', '-f', '--show', image])).trim();
      await runOk('mount', ['-o', 'ro', loop, mnt]);
      mounted = true;
      const diff = await run('diff', ['-r', tree, mnt, '-x', 'lost+found']);
      expect(diff.code, diff.stdout).toBe(0);
    } finally {
      if (mounted) await run('umount', [mnt]);
      if (loop) await run('losetup', ['-d', loop]);
      if (fuseMounted) await run('umount', [fuseDir]);
      if (fuse && fuse.exitCode === null) fuse.kill();
      await server.close();
    }
  });
});
