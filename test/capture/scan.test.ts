import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, makeImage, sh, tempDir, type Loop } from '../devices/loop-device.js';
import { runCli, runCliJson } from '../helpers/cli.js';

const MiB = 1024 * 1024;

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function fsckClean(image: string): void {
  const r = spawnSync('e2fsck', ['-fn', image], { encoding: 'utf8' });
  expect(r.status, `e2fsck -fn ${image}:\n${r.stdout}${r.stderr}`).toBe(0);
}

describe('scan capture of an ext4 filesystem on a loop device', () => {
  const tmp = tempDir('chronodisk-scan-');
  const app = join(tmp.dir, 'appliance');
  const mnt = join(tmp.dir, 'mnt');
  let loop: Loop;
  const cli = (...args: string[]) => runCliJson<{ seq: number; bytesRead: number; bytesStored: number }>([...args, '-a', app]);

  beforeAll(() => {
    mkdirSync(mnt);
    makeImage(join(tmp.dir, 'disk.img'), 128 * MiB);
    loop = attachLoop(join(tmp.dir, 'disk.img'));
    sh('mkfs.ext4', ['-q', '-F', loop.device]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', loop.device, '-a', app, '--name', 'vol']).status).toBe(0);
  });
  afterAll(() => {
    spawnSync('umount', [mnt]);
    loop?.detach();
    tmp.remove();
  });

  it('keeps three moments, each equal to the device as it was and clean under e2fsck', () => {
    const moments: Array<{ seq: number; hash: string }> = [];
    for (let m = 0; m < 3; m++) {
      sh('mount', [loop.device, mnt]);
      mkdirSync(join(mnt, `moment${m}`));
      for (let f = 0; f < 20; f++) writeFileSync(join(mnt, `moment${m}`, `file${f}`), Buffer.alloc(50_000 + f * 1000, `moment ${m} file ${f}\n`));
      if (m > 0) writeFileSync(join(mnt, 'moment0', 'file0'), `rewritten at moment ${m}\n`);
      sh('umount', [mnt]);
      const r = cli('capture', 'vol');
      expect(r.bytesRead).toBe(128 * MiB);
      moments.push({ seq: r.seq, hash: sha256File(loop.device) });
    }
    // Later passes store only what changed: far less than the disk.
    for (const [i, m] of moments.entries()) {
      const out = join(tmp.dir, `moment${i}.img`);
      expect(runCli(['image', 'vol', '--at', String(m.seq), '--out', out, '-a', app]).status).toBe(0);
      expect(sha256File(out), `image at moment ${i}`).toBe(m.hash);
      fsckClean(out);
    }
  });

  it('a pass over the mounted filesystem under a write load freezes at the end and is clean', async () => {
    sh('mount', [loop.device, mnt]);
    // A writer that keeps creating and fsyncing files while the pass reads.
    // Its own process group: killing it must take the running dd along, or umount finds the mount busy.
    const load = spawn('bash', ['-c', `i=0; while true; do dd if=/dev/urandom of=${mnt}/load$((i % 40)) bs=64k count=4 conv=fsync status=none; i=$((i+1)); done`], { stdio: 'ignore', detached: true });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = runCliJson<{ seq: number }>(['capture', 'vol', '-a', app]);
      const out = join(tmp.dir, 'under-load.img');
      expect(runCli(['image', 'vol', '--at', String(r.seq), '--out', out, '-a', app]).status).toBe(0);
      fsckClean(out);
      const tl = runCliJson<{ points: Array<{ seq: number; flags: string[] }> }>(['timeline', 'vol', '-a', app]);
      expect(tl.points.find((p) => p.seq === r.seq)!.flags).toEqual(['crash-consistent', 'scan']);
    } finally {
      const exited = new Promise((r) => load.once('exit', r));
      process.kill(-load.pid!, 'SIGKILL');
      await exited;
      await umountWhenIdle(mnt);
    }
    // Whatever the load wrote after the pass read a block is caught by the next pass.
    const r2 = runCliJson<{ seq: number }>(['capture', 'vol', '-a', app]);
    const out2 = join(tmp.dir, 'after-load.img');
    expect(runCli(['image', 'vol', '--at', String(r2.seq), '--out', out2, '-a', app]).status).toBe(0);
    expect(sha256File(out2)).toBe(sha256File(loop.device));
  });
});

/** umount, retried while the last writes of a killed load drain (the kernel says busy until then). */
async function umountWhenIdle(dir: string): Promise<void> {
  for (let i = 0; ; i++) {
    const r = spawnSync('umount', [dir], { encoding: 'utf8' });
    if (r.status === 0) return;
    if (i >= 50) throw new Error(`umount ${dir}: ${r.stderr.trim()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
