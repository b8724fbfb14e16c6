import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, makeImage, sh, tempDir, type Loop } from '../devices/loop-device.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { imageSha, journals, MiB, mkfsExt4, sha256Of, startCli, waitFor } from './restore-fixtures.js';

const SIZE = 128 * MiB;

interface RestoreJson {
  bytesWritten: number;
  bytesPlanned: number;
  resumed: boolean;
  verified: boolean;
  sha256?: string;
}

describe('interrupted restores finish when run again', () => {
  const tmp = tempDir('chronodisk-restore-interrupt-');
  const app = join(tmp.dir, 'app');
  const mnt = join(tmp.dir, 'mnt');
  const loops: Loop[] = [];
  let dev = '';
  let point = 0;
  let pointSha = '';
  let later = 0;
  let laterSha = '';

  const loopOf = (name: string, bytes: number) => {
    const l = attachLoop(makeImage(join(tmp.dir, name), bytes));
    loops.push(l);
    return l.device;
  };

  /** Runs a restore slowly, and SIGKILLs it once its journal shows durable progress short of the end. */
  async function killMidway(args: string[]): Promise<void> {
    const run = startCli([...args, '--yes', '-a', app]);
    await waitFor(() => journals(app).some((j) => j.watermark > 0 && j.watermark < j.total) || run.child.exitCode !== null, 60_000, 'restore progress');
    expect(run.child.exitCode, run.output()).toBeNull();
    run.child.kill('SIGKILL');
    await run.exited;
  }

  beforeAll(() => {
    mkdirSync(mnt);
    dev = loopOf('disk.img', SIZE);
    mkfsExt4(dev);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', dev, '-a', app, '--name', 'vol']).status).toBe(0);
    point = runCliJson<{ seq: number }>(['capture', 'vol', '-a', app]).seq;
    pointSha = imageSha(app, 'vol', point, tmp.dir);
    sh('mount', [dev, mnt]);
    sh('dd', ['if=/dev/urandom', `of=${mnt}/big`, 'bs=1M', 'count=64', 'status=none']);
    sh('umount', [mnt]);
    later = runCliJson<{ seq: number }>(['capture', 'vol', '-a', app]).seq;
    laterSha = sha256Of(dev);
  });
  afterAll(() => {
    spawnSync('umount', [mnt]);
    for (const l of loops.reverse()) l.detach();
    tmp.remove();
  });

  it('SIGKILL in the middle of a rollback, then a rollback to another point: the half-written ranges are rewritten too', async () => {
    await killMidway(['restore', 'vol', '--at', String(point), '--rate-limit', '16M']);
    expect(sha256Of(dev)).not.toBe(laterSha);
    const r = runCliJson<RestoreJson>(['restore', 'vol', '--at', String(later), '--yes', '-a', app]);
    expect(r.resumed).toBe(true);
    expect(sha256Of(dev)).toBe(laterSha);
    expect(journals(app)).toEqual([]);
  });

  it('SIGKILL in the middle of a rollback: jobs lists it, a rerun finishes it and the disk equals the point', async () => {
    await killMidway(['restore', 'vol', '--at', String(point), '--rate-limit', '16M']);
    const listed = runCliJson<{ jobs: Array<{ kind: string; disk: string; seq: number; bytesDone: number; bytesPlanned: number }> }>(['jobs', '-a', app]).jobs;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ kind: 'rollback', disk: 'vol', seq: point });
    expect(listed[0]!.bytesDone).toBeGreaterThan(0);
    expect(sha256Of(dev)).not.toBe(pointSha);

    const r = runCliJson<RestoreJson>(['restore', 'vol', '--at', String(point), '--yes', '-a', app]);
    expect(r.resumed).toBe(true);
    expect(r.bytesWritten).toBeLessThan(r.bytesPlanned); // it went on from the journal's watermark
    expect(sha256Of(dev)).toBe(pointSha);
    expect(runCliJson<{ jobs: unknown[] }>(['jobs', '-a', app]).jobs).toEqual([]);
    expect(runCli(['check', '-a', app]).status).toBe(0);
  });

  it('SIGKILL in the middle of a restore onto another disk: a rerun finishes it', async () => {
    const target = loopOf('target.img', SIZE);
    await killMidway(['restore', 'vol', '--at', String(point), '--to', target, '--rate-limit', '32M']);
    expect(journals(app)).toHaveLength(1);
    const r = runCliJson<RestoreJson>(['restore', 'vol', '--at', String(point), '--to', target, '--yes', '-a', app]);
    expect(r.resumed).toBe(true);
    expect(r.bytesWritten).toBeLessThan(SIZE);
    expect(r.sha256).toBe(pointSha);
    expect(sha256Of(target)).toBe(pointSha);
    expect(journals(app)).toEqual([]);
  });

  it('I/O errors from the target (nbdkit error filter behind nbdfuse and a loop device): a clear error, then a rerun completes', async () => {
    const nb = join(tmp.dir, 'nbd');
    const fuseDir = join(nb, 'fuse');
    mkdirSync(fuseDir, { recursive: true });
    const flag = join(nb, 'errors-on');
    let kit: ChildProcess | undefined;
    let fuseUp = false;
    let loop = '';
    try {
      kit = spawn('nbdkit', ['-f', '-U', join(nb, 'sock'), '--filter=error', 'memory', String(SIZE), 'error-pwrite-rate=1', `error-file=${flag}`, 'error=EIO'], { stdio: 'ignore' });
      await waitFor(() => existsSync(join(nb, 'sock')), 20_000, 'nbdkit');
      spawn('nbdfuse', ['-P', join(nb, 'fuse.pid'), join(fuseDir, 'disk'), `nbd+unix:///?socket=${join(nb, 'sock')}`], { stdio: 'ignore' });
      await waitFor(() => existsSync(join(nb, 'fuse.pid')), 20_000, 'nbdfuse');
      fuseUp = true;
      loop = sh('losetup', ['-f', '--show', join(fuseDir, 'disk')]).trim();

      const run = startCli(['restore', 'vol', '--at', String(point), '--to', loop, '--rate-limit', '32M', '--yes', '-a', app]);
      await waitFor(() => journals(app).some((j) => j.watermark > 0) || run.child.exitCode !== null, 60_000, 'restore progress');
      writeFileSync(flag, ''); // from now on every write to the target fails
      const code = await run.exited;
      expect(code).toBe(1);
      const lines = run.output().trim().split('\n');
      expect(lines.at(-1)).toMatch(/^chronodisk: .*I\/O error .*run the same restore again/);
      expect(journals(app)).toHaveLength(1);

      rmSync(flag);
      const r = runCliJson<RestoreJson>(['restore', 'vol', '--at', String(point), '--to', loop, '--yes', '-a', app]);
      expect(r.resumed).toBe(true);
      expect(r.verified).toBe(true);
      expect(sha256Of(loop)).toBe(pointSha);
      expect(journals(app)).toEqual([]);
    } finally {
      if (loop) spawnSync('losetup', ['-d', loop]);
      if (fuseUp) spawnSync('umount', [fuseDir]);
      kit?.kill('SIGTERM');
    }
  });
});
