import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, makeImage, sh, tempDir, type Loop } from '../devices/loop-device.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { bytesWrittenTo, fsckClean, imageSha, MiB, mkfsExt4, sha256Of } from './restore-fixtures.js';

interface RestoreJson {
  seq: number;
  bytesWritten: number;
  bytesPlanned: number;
  verified: boolean;
  resumed: boolean;
  restoreSeq: number;
  beforeRestore: { seq: number; label: string };
}

describe('rolling a 1 GiB ext4 disk back in place', () => {
  const tmp = tempDir('chronodisk-rollback-');
  const app = join(tmp.dir, 'app');
  const mnt = join(tmp.dir, 'mnt');
  let loop: Loop;
  let dev = '';
  let point = 0;
  let later = 0;
  let laterSha = '';

  beforeAll(() => {
    mkdirSync(mnt);
    loop = attachLoop(makeImage(join(tmp.dir, 'disk.img'), 1024 * MiB));
    dev = loop.device;
    mkfsExt4(dev);
    sh('mount', [dev, mnt]);
    sh('dd', ['if=/dev/urandom', `of=${mnt}/base`, 'bs=1M', 'count=16', 'oflag=direct', 'status=none']);
    sh('umount', [mnt]);
    expect(runCli(['init', app]).status).toBe(0);
    const p = runCli(['protect', dev, '-a', app, '--name', 'vol', '--mode', 'scan']);
    expect(p.status, p.stderr).toBe(0);
    point = runCliJson<{ seq: number }>(['capture', 'vol', '-a', app]).seq;
    // 10 MiB changed after the point: ten new 1 MiB files, written past the page cache.
    sh('mount', [dev, mnt]);
    for (let i = 0; i < 10; i++) sh('dd', ['if=/dev/urandom', `of=${mnt}/new${i}`, 'bs=1M', 'count=1', 'oflag=direct', 'status=none']);
    sh('umount', [mnt]);
    later = runCliJson<{ seq: number }>(['capture', 'vol', '-a', app]).seq;
    laterSha = sha256Of(dev);
  });
  afterAll(() => {
    spawnSync('umount', [mnt]);
    loop?.detach();
    tmp.remove();
  });

  it('writes only what changed since the point, then equals it; the restore can be undone exactly', () => {
    const pointSha = imageSha(app, 'vol', point, tmp.dir);
    expect(pointSha).not.toBe(laterSha);
    const before = bytesWrittenTo(dev);
    const r = runCliJson<RestoreJson>(['restore', 'vol', '--at', String(point), '--yes', '-a', app]);
    const written = bytesWrittenTo(dev) - before;
    // The kernel's own counter: the 10 MiB of file data plus a little ext4 metadata.
    expect(written).toBeGreaterThanOrEqual(10 * MiB);
    expect(written).toBeLessThanOrEqual(11 * MiB);
    expect(r.bytesWritten).toBe(r.bytesPlanned);
    expect(r.verified).toBe(true);
    expect(sha256Of(dev)).toBe(pointSha);
    fsckClean(dev);

    // The timeline says so: a restore point, and a bookmark on the state before it.
    const tl = runCliJson<{ points: Array<{ seq: number; flags: string[] }>; bookmarks: Array<{ seq: number; label: string }> }>(['timeline', 'vol', '-a', app]);
    expect(tl.points.find((p) => p.seq === r.restoreSeq)!.flags).toContain('restore');
    expect(r.beforeRestore).toEqual({ seq: later, label: `before-restore-${later}` });
    expect(tl.bookmarks).toContainEqual(expect.objectContaining({ seq: later, label: `before-restore-${later}` }));

    // Undo: back to the bookmark, again only those bytes.
    const before2 = bytesWrittenTo(dev);
    const undo = runCliJson<RestoreJson>(['restore', 'vol', '--at', `@before-restore-${later}`, '--yes', '-a', app]);
    expect(bytesWrittenTo(dev) - before2).toBeLessThanOrEqual(11 * MiB);
    expect(undo.restoreSeq).toBeGreaterThan(r.restoreSeq);
    expect(sha256Of(dev)).toBe(laterSha);
    fsckClean(dev);
    expect(runCliJson<{ jobs: unknown[] }>(['jobs', '-a', app]).jobs).toEqual([]);
  });

  it('refuses while the disk is mounted, naming the mount point, and writes nothing; needs --yes without a terminal', () => {
    const noYes = runCli(['restore', 'vol', '--at', String(point), '-a', app]);
    expect(noYes.status).toBe(2);
    expect(noYes.stderr).toMatch(/pass --yes/);
    expect(noYes.stderr.trim().split('\n')).toHaveLength(1);

    sh('mount', [dev, mnt]);
    try {
      sh('sync', []);
      const before = bytesWrittenTo(dev);
      const r = runCli(['restore', 'vol', '--at', String(point), '--yes', '-a', app]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(mnt);
      expect(r.stderr).toMatch(/unmount/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(bytesWrittenTo(dev)).toBe(before);
    } finally {
      sh('umount', [mnt]);
    }
  });
});
