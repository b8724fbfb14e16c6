import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withFrozen } from '../../electron/engine/devices/freeze.js';
import { isChronodiskError } from '../../electron/engine/errors.js';
import { attachLoop, type Loop, makeImage, repoRoot, sh, tempDir, tsNodeArgs } from './loop-device.js';

const MiB = 1024 * 1024;

describe('withFrozen on a loop-mounted ext4', () => {
  const tmp = tempDir();
  const mnt = join(tmp.dir, 'mnt');
  let loop: Loop;

  /** Is it frozen? A second FIFREEZE on a frozen filesystem fails with EBUSY. */
  const isFrozen = (): boolean => {
    const r = spawnSync('fsfreeze', ['-f', mnt], { encoding: 'utf8' });
    if (r.status === 0) {
      execFileSync('fsfreeze', ['-u', mnt]);
      return false;
    }
    if (/busy/i.test(r.stderr)) return true;
    throw new Error(r.stderr);
  };

  /** A writer in another process: it blocks while the filesystem is frozen. */
  const startWriter = (name: string): ChildProcess =>
    spawn('dd', ['if=/dev/zero', `of=${join(mnt, name)}`, 'bs=64k', 'count=4', 'conv=fsync'], { stdio: 'ignore' });
  const exitCode = async (child: ChildProcess): Promise<number | null> => {
    if (child.exitCode !== null) return child.exitCode;
    const [code] = (await once(child, 'exit')) as [number | null];
    return code;
  };

  /** The scheduler state of a process (R, S, D, …) from /proc. */
  const stateOf = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];
    } catch {
      return 'gone';
    }
  };

  beforeAll(() => {
    loop = attachLoop(makeImage(join(tmp.dir, 'fs.img'), 64 * MiB));
    sh('mkfs.ext4', ['-q', loop.device]);
    mkdirSync(mnt);
    sh('mount', [loop.device, mnt]);
  });
  afterAll(() => {
    spawnSync('fsfreeze', ['-u', mnt]);
    spawnSync('umount', [mnt]);
    loop?.detach();
    tmp.remove();
  });

  it('blocks writers while frozen and lets them finish after', async () => {
    let writer: ChildProcess | undefined;
    let exitedWhileFrozen = true;
    const result = await withFrozen(mnt, async ({ mountpoint }) => {
      expect(mountpoint).toBe(mnt);
      expect(isFrozen()).toBe(true);
      writer = startWriter('during');
      // Blocked on the frozen filesystem: uninterruptible sleep, and still there a moment later.
      for (let i = 0; i < 500 && stateOf(writer.pid!) !== 'D' && writer.exitCode === null; i++) await sleep(10);
      await sleep(200);
      exitedWhileFrozen = writer.exitCode !== null;
      expect(stateOf(writer.pid!)).toBe('D');
      return 42;
    });
    expect(result).toBe(42);
    expect(exitedWhileFrozen).toBe(false);
    expect(await exitCode(writer!)).toBe(0);
    expect(readFileSync(join(mnt, 'during'))).toEqual(Buffer.alloc(256 * 1024));
    expect(isFrozen()).toBe(false);
  });

  it('thaws when the callback throws, and passes the error on', async () => {
    const err = await withFrozen(mnt, async () => {
      throw new Error('boom');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('boom');
    expect(isFrozen()).toBe(false);
  });

  it('thaws after the time limit even if the callback hangs', async () => {
    let aborted = false;
    const err = await withFrozen(
      mnt,
      ({ signal }) =>
        new Promise<void>(() => {
          signal.addEventListener('abort', () => (aborted = true));
        }),
      { maxFrozenMs: 300 },
    ).catch((e: unknown) => e);
    expect(isChronodiskError(err, 'busy')).toBe(true);
    expect((err as Error).message).toBe(`${mnt} stayed frozen longer than 300 ms, so it was thawed early; the point is not crash-consistent`);
    expect(aborted).toBe(true);
    expect(isFrozen()).toBe(false);
  });

  it('refuses to freeze the same filesystem twice', async () => {
    await withFrozen(mnt, async () => {
      const err = await withFrozen(mnt, async () => undefined).catch((e: unknown) => e);
      expect(isChronodiskError(err, 'busy')).toBe(true);
    });
    expect(isFrozen()).toBe(false);
  });

  it('refuses a filesystem that cannot be frozen, naming it', async () => {
    const err = await withFrozen('/proc', async () => undefined).catch((e: unknown) => e);
    expect(isChronodiskError(err)).toBe(true);
    expect((err as Error).message).toMatch(/^\/proc: /);
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`thaws when the process gets ${sig} while frozen, then dies of it`, async () => {
      const script = join(tmp.dir, 'freeze-child.ts');
      writeFileSync(
        script,
        `import { withFrozen } from ${JSON.stringify(join(repoRoot, 'electron/engine/devices/freeze.js'))};
await withFrozen(process.argv[2], () => { console.log('frozen'); return new Promise(() => {}); }, { maxFrozenMs: 60000 });\n`,
      );
      const child = spawn(process.execPath, [...tsNodeArgs, script, mnt], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const [first] = (await once(child.stdout!, 'data')) as [Buffer];
        expect(first.toString()).toBe('frozen\n');
        expect(isFrozen()).toBe(true);
        child.kill(sig);
        const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
        expect({ code, signal }).toEqual({ code: null, signal: sig });
        expect(isFrozen()).toBe(false);
      } finally {
        child.kill('SIGKILL');
        spawnSync('fsfreeze', ['-u', mnt]);
      }
    });
  }
});
