import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, makeImage, sh, tempDir, type Loop } from '../devices/loop-device.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { fsckClean, imageSha, MiB, mkfsExt4, onDiskSha, sha256Of } from './restore-fixtures.js';

const SIZE = 96 * MiB;

describe('restoring a point onto another disk or an image file', () => {
  const tmp = tempDir('chronodisk-restore-copy-');
  // The appliance lives on a filesystem of its own loop device, so "the appliance's own disk" is real.
  const appFs = join(tmp.dir, 'appfs');
  const app = join(appFs, 'app');
  const mnt = join(tmp.dir, 'mnt');
  const loops: Loop[] = [];
  const loopOf = (name: string, bytes: number) => {
    const l = attachLoop(makeImage(join(tmp.dir, name), bytes));
    loops.push(l);
    return l.device;
  };
  let source = '';
  let point = 0;
  let pointSha = '';

  beforeAll(() => {
    mkdirSync(appFs);
    mkdirSync(mnt);
    const appDev = loopOf('appliance.img', 256 * MiB);
    mkfsExt4(appDev);
    sh('mount', ['-o', 'noatime', appDev, appFs]);
    source = loopOf('source.img', SIZE);
    mkfsExt4(source);
    sh('mount', [source, mnt]);
    for (let i = 0; i < 4; i++) sh('dd', ['if=/dev/urandom', `of=${mnt}/f${i}`, 'bs=1M', 'count=3', 'status=none']);
    sh('umount', [mnt]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', source, '-a', app, '--name', 'vol']).status).toBe(0);
    point = runCliJson<{ seq: number }>(['capture', 'vol', '-a', app]).seq;
    pointSha = imageSha(app, 'vol', point, tmp.dir);
    // The source moves on; the restores below are of the earlier point.
    sh('mount', [source, mnt]);
    sh('dd', ['if=/dev/urandom', `of=${mnt}/later`, 'bs=1M', 'count=2', 'status=none']);
    sh('umount', [mnt]);
    runCliJson(['capture', 'vol', '-a', app]);
  });
  afterAll(() => {
    spawnSync('umount', [mnt]);
    spawnSync('umount', [appFs]);
    for (const l of loops.reverse()) l.detach();
    tmp.remove();
  });

  it('onto a second loop device (larger, with old data): the first image-size bytes equal the image, verified', () => {
    const target = loopOf('target.img', SIZE + 16 * MiB);
    sh('dd', ['if=/dev/urandom', `of=${target}`, 'bs=1M', 'count=112', 'status=none']); // zeros in the image must land too
    const tailBefore = spawnSync('bash', ['-c', `tail -c ${16 * MiB} ${target} | sha256sum`], { encoding: 'utf8' }).stdout;
    const r = runCliJson<{ bytesWritten: number; verified: boolean; sha256: string; target: string; seq: number }>(['restore', 'vol', '--at', String(point), '--to', target, '--yes', '-a', app]);
    expect(r).toMatchObject({ bytesWritten: SIZE, verified: true, target, seq: point });
    expect(r.sha256).toBe(pointSha);
    expect(sha256Of(target, SIZE)).toBe(pointSha);
    expect(spawnSync('bash', ['-c', `tail -c ${16 * MiB} ${target} | sha256sum`], { encoding: 'utf8' }).stdout).toBe(tailBefore);
    fsckClean(target);
  });

  it('onto a new image file: equal, and sparse where the disk held zeros', () => {
    const out = join(tmp.dir, 'restored.img');
    const r = runCliJson<{ verified: boolean; sha256: string }>(['restore', 'vol', '--at', String(point), '--to', out, '--yes', '-a', app]);
    expect(r.verified).toBe(true);
    expect(sha256Of(out)).toBe(pointSha);
    const st = statSync(out);
    expect(st.size).toBe(SIZE);
    expect(st.blocks * 512).toBeLessThan(SIZE / 2);
  });

  it('refuses a too small device, the appliance’s own device and a mounted device, writing nothing', () => {
    const small = loopOf('small.img', SIZE - MiB);
    const mountedDev = loopOf('mounted.img', SIZE);
    mkfsExt4(mountedDev);
    const mntB = join(tmp.dir, 'mntB');
    mkdirSync(mntB);
    // Mounted filesystems are held read-only while their bytes are compared: a read-write ext4
    // rewrites its own metadata after sync (journal, periodic superblock update), which is the
    // kernel's doing, not ours.
    sh('mount', ['-o', 'ro', mountedDev, mntB]);
    try {
      const appDev = loops[0]!.device;
      const cases: Array<[string, RegExp]> = [
        [small, /too small/],
        [appDev, /holds the appliance/],
        [mountedDev, new RegExp(`mounted at ${mntB}`)],
        [source, /captured from: roll it back in place/],
      ];
      for (const [dev, message] of cases) {
        if (dev === appDev) sh('mount', ['-o', 'remount,ro', appFs]);
        try {
          const before = onDiskSha(dev);
          const r = runCli(['restore', 'vol', '--at', String(point), '--to', dev, '--yes', '-a', app]);
          expect(r.status, `${dev}: ${r.stderr}`).toBe(1);
          expect(r.stderr).toMatch(message);
          expect(r.stderr.trim().split('\n')).toHaveLength(1);
          expect(onDiskSha(dev), `${dev} changed`).toBe(before);
        } finally {
          if (dev === appDev) sh('mount', ['-o', 'remount,rw', appFs]);
        }
      }
      // A file inside the appliance directory is refused too; no file appears.
      const inside = runCli(['restore', 'vol', '--at', String(point), '--to', join(app, 'x.img'), '--yes', '-a', app]);
      expect(inside.status).toBe(1);
      expect(inside.stderr).toMatch(/holds the appliance/);
      // Without a terminal and without --yes: refused, with a message saying to pass --yes.
      const target = loopOf('noyes.img', SIZE);
      const noYes = runCli(['restore', 'vol', '--at', String(point), '--to', target, '-a', app]);
      expect(noYes.status).toBe(2);
      expect(noYes.stderr).toMatch(/pass --yes/);
      expect(sha256Of(target)).toBe(sha256Of(join(tmp.dir, 'noyes.img')));
    } finally {
      sh('umount', [mntB]);
    }
  });
});
