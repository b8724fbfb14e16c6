import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceName, TRACEFS_ROOT } from '../../electron/engine/devices/tracefs.js';
import { attachLoop, type Loop, makeImage, repoRoot, sh, tempDir, tsNodeArgs } from './loop-device.js';

const MiB = 1024 * 1024;

/** A capture-like process: tracking a disk and freezing its filesystem at once, then stopped. */
describe('stopping a process that is tracking and freezing', () => {
  const tmp = tempDir();
  const mnt = join(tmp.dir, 'mnt');
  let loop: Loop;
  const isFrozen = () => {
    const r = spawnSync('fsfreeze', ['-f', mnt], { encoding: 'utf8' });
    if (r.status === 0) spawnSync('fsfreeze', ['-u', mnt]);
    return r.status !== 0 && /busy/i.test(r.stderr);
  };
  beforeAll(() => {
    loop = attachLoop(makeImage(join(tmp.dir, 'fs.img'), 32 * MiB));
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

  const child = (ownHandler: boolean) => {
    const script = join(tmp.dir, `both-${ownHandler}.ts`);
    const mod = (f: string) => JSON.stringify(join(repoRoot, 'electron/engine/devices', f));
    writeFileSync(
      script,
      `import { probeSource } from ${mod('block-device.js')};
import { WriteTracker } from ${mod('write-tracker.js')};
import { withFrozen } from ${mod('freeze.js')};
const [dev, mnt] = process.argv.slice(2);
const t = await WriteTracker.start(await probeSource(dev), { name: 'both', onEvents: () => {} });
${ownHandler ? "process.on('SIGTERM', () => console.log('graceful'));" : ''}
try {
  await withFrozen(mnt, () => { console.log('frozen'); return new Promise(() => {}); }, { maxFrozenMs: 60000 });
} catch (e) {
  console.log(e.message);
  await t.stop();
}\n`,
    );
    return spawn(process.execPath, [...tsNodeArgs, script, loop.device, mnt], { stdio: ['ignore', 'pipe', 'inherit'] });
  };

  it('without a handler of its own: thaws, removes the instance, dies of SIGTERM', async () => {
    const p = child(false);
    try {
      await once(p.stdout!, 'data');
      expect(isFrozen()).toBe(true);
      expect(existsSync(join(TRACEFS_ROOT, 'instances', instanceName('both', p.pid)))).toBe(true);
      p.kill('SIGTERM');
      const [code, signal] = (await once(p, 'exit')) as [number | null, string | null];
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
      expect(isFrozen()).toBe(false);
      expect(existsSync(join(TRACEFS_ROOT, 'instances', instanceName('both', p.pid)))).toBe(false);
    } finally {
      p.kill('SIGKILL');
    }
  });

  it('with a handler of its own: thaws at once, and the program shuts down in its own way', async () => {
    const p = child(true);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await once(p.stdout!, 'data');
      expect(isFrozen()).toBe(true);
      p.kill('SIGTERM');
      const [code] = (await once(p, 'exit')) as [number | null];
      expect(code).toBe(0);
      expect(out).toBe(`frozen\ngraceful\n${mnt} was thawed early because the process is being stopped\n`);
      expect(isFrozen()).toBe(false);
      expect(existsSync(join(TRACEFS_ROOT, 'instances', instanceName('both', p.pid)))).toBe(false);
    } finally {
      p.kill('SIGKILL');
    }
  });
});
