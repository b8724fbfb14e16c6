import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeImage, mountExt4, tempDir } from '../devices/loop-device.js';
import { cliPath, runCli, runCliJson } from '../helpers/cli.js';
import { sha256 } from '../helpers/history.js';
import { client, nextEvent, startServiceProcess } from '../service/service-fixture.js';

const MiB = 1024 * 1024;
let fsDirOf = () => '/';

/** Runs `chronodisk run --json` and collects its event lines. */
function startRun(app: string): { child: ChildProcess; events: Array<Record<string, string>> } {
  const child = spawn(process.execPath, [cliPath, 'run', '-a', app, '--json', '--interval', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: Array<Record<string, string>> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    events.push(JSON.parse(l));
    if (process.env.SPACE_DEBUG) console.log(l);
  });
  return { child, events };
}

async function until(pred: () => boolean, ms: number, what: string, tick: () => void = () => {}, events: Array<Record<string, string>> = []): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) {
      // The writer's last words say why it did not get there (it failed once in a full run).
      const last = events.slice(-8).map((e) => JSON.stringify(e)).join('\n  ');
      throw new Error(`timed out waiting for ${what}; free: ${spawnSync('df', ['-h', '--output=avail', fsDirOf()], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ')}; last events:\n  ${last}`);
    }
    tick();
    await new Promise((r) => setTimeout(r, 700));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  const closed = new Promise((r) => child.once('close', r));
  child.kill('SIGTERM');
  await closed;
}

describe('an appliance on a small filesystem, filled by captures', () => {
  const tmp = tempDir('chronodisk-space-');
  const fsDir = join(tmp.dir, 'appfs');
  const app = join(fsDir, 'appliance');
  const source = join(tmp.dir, 'source.img');
  let appfs: ReturnType<typeof mountExt4> | undefined;
  let round = 0;
  /** Rewrites 12 MiB of the source with fresh random data: every pass stores it anew. */
  const churn = () => {
    const fd = openSync(source, 'r+');
    try {
      writeSync(fd, randomBytes(12 * MiB), 0, 12 * MiB, (round++ % 2) * 12 * MiB);
    } finally {
      closeSync(fd);
    }
  };

  beforeAll(() => {
    fsDirOf = () => fsDir;
    appfs = mountExt4(tmp.dir, fsDir, 256);
    makeImage(source, 24 * MiB);
    churn();
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', source, '-a', app, '--name', 'src']).status).toBe(0);
    expect(runCli(['retention', 'src', '-a', app, '--min-free', '64M']).status).toBe(0);
  });
  afterAll(() => {
    appfs?.remove();
    tmp.remove();
  });

  it('thins early when space runs low, pauses when nothing can go, and stays intact', async () => {
    // 1. Capture until the floor is reached: thinning must run early, by itself.
    let w = startRun(app);
    try {
      await until(() => w.events.some((e) => e.event === 'status' && e.state === 'thinned'), 120_000, 'early thinning', churn, w.events);
    } finally {
      await stop(w.child);
    }
    expect(runCli(['check', '-a', app, '--read-data']).status).toBe(0);

    // 2. Bookmark every point and ask for all but 1 MiB of the filesystem free (a floor the
    // size of the filesystem or more is refused): nothing may be thinned, and the appliance
    // itself takes more than that, so capture has to pause (deterministically, at the first step).
    for (const p of runCliJson<{ points: Array<{ seq: number }> }>(['timeline', 'src', '--all', '-a', app]).points) {
      expect(runCli(['mark', 'src', `keep ${p.seq}`, '--at', String(p.seq), '-a', app]).status).toBe(0);
    }
    const fsBytes = statfsSync(fsDir).blocks * statfsSync(fsDir).bsize;
    expect(runCli(['retention', 'src', '-a', app, '--min-free', String(fsBytes)]).status).toBe(2);
    const floor = runCli(['retention', 'src', '-a', app, '--min-free', String(fsBytes - MiB)]);
    expect(floor.status, floor.stderr).toBe(0);
    w = startRun(app);
    try {
      await until(() => w.events.some((e) => e.event === 'status' && e.state === 'paused'), 120_000, 'a pause', churn, w.events);
    } finally {
      await stop(w.child);
    }
    const paused = w.events.find((e) => e.state === 'paused')!;
    expect(paused.message).toMatch(/appliance is full .* capture is paused/);
    expect(runCli(['check', '-a', app, '--read-data']).status).toBe(0);

    // 3. Give the bookmarks up and the floor back: the next start thins and capture resumes.
    expect(runCli(['retention', 'src', '-a', app, '--min-free', '64M']).status).toBe(0);
    const marks = runCliJson<{ bookmarks: Array<{ label: string }> }>(['timeline', 'src', '--all', '-a', app]).bookmarks;
    for (const b of marks) expect(runCli(['unmark', 'src', b.label, '-a', app]).status).toBe(0);
    w = startRun(app);
    try {
      await until(() => w.events.some((e) => e.event === 'point'), 60_000, 'capture to resume', churn, w.events);
    } finally {
      await stop(w.child);
    }
    expect(runCli(['check', '-a', app, '--read-data']).status).toBe(0);
    const latest = runCliJson<{ seq: number }>(['point', 'src', '--at', 'now', '-a', app]);
    const out = join(tmp.dir, 'latest.img');
    expect(runCli(['image', 'src', '--at', String(latest.seq), '--out', out, '-a', app]).status).toBe(0);
  }, 420_000);
});

describe('a scan pass bigger than the free space', () => {
  const tmp = tempDir('chronodisk-outgrown-');
  const fsDir = join(tmp.dir, 'appfs');
  const app = join(fsDir, 'appliance');
  const source = join(tmp.dir, 'source.img');
  const ballast = join(fsDir, 'ballast');
  let appfs: ReturnType<typeof mountExt4> | undefined;
  const free = () => {
    const s = statfsSync(fsDir);
    return s.bavail * s.bsize;
  };

  beforeAll(() => {
    fsDirOf = () => fsDir;
    appfs = mountExt4(tmp.dir, fsDir, 256);
    // 96 MiB of random data cannot fit beside 168 MiB of other files on a 256 MiB filesystem.
    writeFileSync(source, randomBytes(96 * MiB));
    writeFileSync(ballast, Buffer.alloc(168 * MiB, 1));
    expect(runCli(['init', app]).status).toBe(0);
    const protect = runCli(['protect', source, '-a', app, '--name', 'src']);
    expect(protect.status).toBe(0);
    expect(protect.stdout).toMatch(/Note: the appliance has [\d.]+ MiB free; the first copy of src may need up to 96(\.0)? MiB/);
  });
  afterAll(() => {
    appfs?.remove();
    tmp.remove();
  });

  it('gives back what the failed pass wrote, does not retry it until there is clearly more room, then captures', async () => {
    const freeBefore = free();
    const w = startRun(app);
    try {
      await until(() => w.events.some((e) => e.event === 'error'), 60_000, 'the pass to run out of space', () => {}, w.events);
      expect(w.events.find((e) => e.event === 'error')!.message).toMatch(/no space left/);
      const paused = w.events.find((e) => e.event === 'status' && e.state === 'paused');
      expect(paused?.message).toMatch(/^src needs more than the \d+ MiB that was free on the appliance; its capture waits/);
      // The segments the failed batch sealed hold no point: the guard retires them (before it
      // the filesystem was left full of them, and every later pass failed at once).
      await until(() => free() >= freeBefore - 2 * MiB, 30_000, 'the failed pass\'s segments to be given back', () => {}, w.events);
      // Passes are due every second, but none runs while no more room has come: no new error, no point.
      await new Promise((r) => setTimeout(r, 4000));
      expect(w.events.filter((e) => e.event === 'error' || e.event === 'point')).toHaveLength(1);

      rmSync(ballast);
      await until(() => w.events.some((e) => e.event === 'point'), 60_000, 'capture once there is room', () => {}, w.events);
      expect(w.events.some((e) => e.event === 'status' && e.state === 'capturing' && /capturing src again/.test(e.message!))).toBe(true);
    } finally {
      await stop(w.child);
    }
    expect(runCli(['check', '-a', app, '--read-data']).status).toBe(0);
    const out = join(tmp.dir, 'latest.img');
    expect(runCli(['image', 'src', '--at', 'now', '--out', out, '-a', app]).status).toBe(0);
    expect(sha256(readFileSync(out))).toBe(sha256(readFileSync(source)));
  }, 240_000);

  it('in the service, the disk shows as paused with the reason, and is captured once there is room', async () => {
    // Every block changes: the next pass stores 96 MiB again, with ~64 MiB free.
    writeFileSync(source, randomBytes(96 * MiB));
    writeFileSync(ballast, Buffer.alloc(80 * MiB, 1));
    const socket = join(tmp.dir, 'service.sock');
    const service = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', join(tmp.dir, 'split')]);
    const c = await client(socket);
    try {
      const disk = async () => (await c.request('listDisks', {})).find((d) => d.name === 'src')!;
        let d = await disk();
      for (const end = Date.now() + 60_000; d.state !== 'paused' && Date.now() < end; d = await disk()) await new Promise((r) => setTimeout(r, 300));
      expect(d).toMatchObject({ state: 'paused', message: expect.stringMatching(/^src needs more than the \d+ MiB that was free on the appliance/) });

      rmSync(ballast);
      const captured = nextEvent(c, 'pointCommitted', (p) => p.disk === 'src', 60_000);
      await captured;
      expect((await disk()).state).not.toBe('paused');
    } finally {
      c.close();
      await service.stop();
    }
    const out = join(tmp.dir, 'latest2.img');
    expect(runCli(['image', 'src', '--at', 'now', '--out', out, '-a', app]).status).toBe(0);
    expect(sha256(readFileSync(out))).toBe(sha256(readFileSync(source)));
  }, 240_000);
});
