import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, makeImage, sh, tempDir, type Loop } from '../devices/loop-device.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { imageSha, journals, MiB, mkfsExt4, sha256Of, startCli, waitFor } from './restore-fixtures.js';

const SIZE = 64 * MiB;

describe('hot-first restore (--live)', () => {
  const tmp = tempDir('chronodisk-restore-live-');
  const app = join(tmp.dir, 'app');
  const mnt = join(tmp.dir, 'mnt');
  const loops: Loop[] = [];
  let point = 0;
  let pointSha = '';

  beforeAll(() => {
    mkdirSync(mnt);
    const l = attachLoop(makeImage(join(tmp.dir, 'disk.img'), SIZE));
    loops.push(l);
    mkfsExt4(l.device);
    sh('mount', [l.device, mnt]);
    sh('dd', ['if=/dev/urandom', `of=${mnt}/data`, 'bs=1M', 'count=8', 'status=none']);
    sh('umount', [mnt]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', l.device, '-a', app, '--name', 'vol']).status).toBe(0);
    point = runCliJson<{ seq: number }>(['capture', 'vol', '-a', app]).seq;
    pointSha = imageSha(app, 'vol', point, tmp.dir);
  });
  afterAll(() => {
    spawnSync('umount', [mnt]);
    for (const l of loops.reverse()) l.detach();
    tmp.remove();
  });

  it('serves the point at once; a qemu-io client reads it before the copy ends, and its writes are on the target at the end', async () => {
    const target = attachLoop(makeImage(join(tmp.dir, 'target.img'), SIZE));
    loops.push(target);
    const socket = join(tmp.dir, 'live.sock');
    // Slow enough that the client is done long before the copy is.
    const run = startCli(['restore', 'vol', '--at', String(point), '--to', target.device, '--live', '--socket', socket, '--rate-limit', '4M', '--yes', '--json', '-a', app]);
    const events = () =>
      run
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event: string; uri?: string });
    try {
      await waitFor(() => events().some((e) => e.event === 'serving') || run.child.exitCode !== null, 30_000, 'serving');
      const uri = events().find((e) => e.event === 'serving')!.uri!;
      expect(decodeURIComponent(uri)).toContain(socket);

      // The whole point, read through the export while the copy runs.
      const seen = join(tmp.dir, 'seen.img');
      const copy = spawnSync('nbdcopy', [uri, seen], { encoding: 'utf8' });
      expect(copy.status, copy.stderr).toBe(0);
      expect(sha256Of(seen)).toBe(pointSha);
      // qemu-io reads a piece of the point and writes: one whole 64 KiB run, one unaligned 3000 bytes.
      const q = spawnSync(
        'qemu-io',
        ['-f', 'raw', '-c', 'read -q 0 1M', '-c', 'write -q -P 0xab 1M 64k', '-c', 'write -q -P 0xcd 5000 3000', '-c', 'read -q -P 0xab 1M 64k', '-c', 'read -q -P 0xcd 5000 3000', uri],
        { encoding: 'utf8' },
      );
      expect(q.status, q.stdout + q.stderr).toBe(0);
      expect(q.stdout + q.stderr).not.toMatch(/fail|error|mismatch/i);
      expect(events().some((e) => e.event === 'copied'), 'the copy ended before the client was done').toBe(false);

      await waitFor(() => events().some((e) => e.event === 'copied') || run.child.exitCode !== null, 60_000, 'copy');
      expect(events().find((e) => e.event === 'copied'), run.output()).toBeDefined();
      // After the copy, the export serves the target itself.
      const q2 = spawnSync('qemu-io', ['-f', 'raw', '-c', 'read -q -P 0xab 1M 64k', '-c', 'write -q -P 0xee 2M 4k', uri], { encoding: 'utf8' });
      expect(q2.status, q2.stdout + q2.stderr).toBe(0);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
    // The target holds the point plus every write the client made.
    const expected = join(tmp.dir, 'expected.img');
    copyFileSync(join(tmp.dir, 'seen.img'), expected);
    sh('bash', ['-c', `printf '\\xab%.0s' $(seq 65536) | dd of=${expected} bs=1 seek=${MiB} conv=notrunc status=none`]);
    sh('bash', ['-c', `printf '\\xcd%.0s' $(seq 3000) | dd of=${expected} bs=1 seek=5000 conv=notrunc status=none`]);
    sh('bash', ['-c', `printf '\\xee%.0s' $(seq 4096) | dd of=${expected} bs=1 seek=${2 * MiB} conv=notrunc status=none`]);
    expect(sha256Of(target.device)).toBe(sha256Of(expected));
    expect(journals(app)).toEqual([]);
  });
});
