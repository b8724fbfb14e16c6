import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { attachLoop, makeImage, makePartitionedImage, sh, tempDir, type Loop } from '../devices/loop-device.js';
import { cliPath, runCli, runCliJson } from '../helpers/cli.js';

const MiB = 1024 * 1024;
const tracing = '/sys/kernel/tracing/instances';

interface Writer {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  waitFor(pred: (l: Record<string, unknown>) => boolean, ms: number): Promise<Record<string, unknown>>;
}

/** Starts `chronodisk run --json` and follows its event lines. */
async function startRun(app: string): Promise<Writer> {
  const child = spawn(process.execPath, [cliPath, 'run', '-a', app, '--json', '--interval', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(JSON.parse(l) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const w: Writer = {
    child,
    lines,
    async waitFor(pred, ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no matching event within ${ms} ms; got ${JSON.stringify(lines)} ${stderr}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
  await w.waitFor((l) => l.event === 'started', 60_000);
  return w;
}

async function stop(w: Writer, signal: NodeJS.Signals): Promise<void> {
  const exited = new Promise((r) => w.child.once('close', r));
  w.child.kill(signal);
  await exited;
}

/** Tracing instances a process made (named chronodisk-<pid>-<disk>); other tests may run their own. */
function instancesOf(pid: number): string[] {
  return existsSync(tracing) ? readdirSync(tracing).filter((n) => n.startsWith(`chronodisk-${pid}-`)) : [];
}

function fileInImage(app: string, disk: string, seq: number, dir: string, path: string): string {
  const out = join(dir, `img-${seq}`);
  expect(runCli(['image', disk, '--at', String(seq), '--out', out, '--force', '-a', app]).status).toBe(0);
  return spawnSync('debugfs', ['-R', `cat ${path}`, out], { encoding: 'utf8' }).stdout;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe.each([
  { name: 'a whole loop device', partitioned: false },
  { name: 'a partition of a losetup -P device', partitioned: true },
])('track mode on $name', ({ partitioned }) => {
  const tmp = tempDir('chronodisk-track-');
  const app = join(tmp.dir, 'app');
  const mnt = join(tmp.dir, 'mnt');
  let loop: Loop;
  let dev = '';

  beforeAll(() => {
    mkdirSync(mnt);
    const img = join(tmp.dir, 'disk.img');
    if (partitioned) makePartitionedImage(img, 96 * MiB, [[2048, 128 * 1024]]);
    else makeImage(img, 64 * MiB);
    loop = attachLoop(img, partitioned ? { partitions: 1 } : {});
    dev = partitioned ? loop.partitions[0]! : loop.device;
    sh('mkfs.ext4', ['-q', '-F', dev]);
    expect(runCli(['init', app]).status).toBe(0);
    const r = runCli(['protect', dev, '-a', app, '--name', 'vol', '--mode', 'track']);
    expect(r.status, r.stderr).toBe(0);
  });
  afterAll(() => {
    spawnSync('umount', [mnt]);
    loop?.detach();
    tmp.remove();
  });

  it('makes a point holding a synced file within 5 s, and leaves no tracefs instance after SIGTERM', async () => {
    const w = await startRun(app);
    try {
      sh('mount', [dev, mnt]);
      const before = w.lines.length;
      const t0 = Date.now();
      writeFileSync(join(mnt, 'hello.txt'), 'hello from track mode\n');
      sh('sync', []);
      const ev = await w.waitFor((l) => w.lines.indexOf(l) >= before && l.event === 'point' && l.how === 'track', 5000);
      const latency = Date.now() - t0;
      expect(latency).toBeLessThan(5000);
      // The file may take more than one batch to land (data, then journal and inode).
      let content = '';
      for (let i = 0; i < 20 && content !== 'hello from track mode\n'; i++) {
        const latest = runCliJson<{ seq: number }>(['point', 'vol', '--at', 'now', '-a', app]);
        content = fileInImage(app, 'vol', latest.seq, tmp.dir, '/hello.txt');
        if (content !== 'hello from track mode\n') await new Promise((r) => setTimeout(r, 250));
      }
      expect(content).toBe('hello from track mode\n');
      expect(ev.seq).toBeGreaterThan(0);
      // A batch larger than the read buffers track mode lends to the writer (7 MiB): the
      // buffers are read into again only once their bytes are in the appliance, so once
      // the unmount's writes are captured the latest point is the device, byte for byte.
      // Half random (stored raw, from the lent memory itself), half compressible (encoded by the threads).
      writeFileSync(join(mnt, 'big.bin'), Buffer.concat(Array.from({ length: 24 }, (_, i) => (i % 2 ? randomBytes(MiB) : Buffer.alloc(MiB, `block ${i} `)))));
      sh('umount', [mnt]);
      const want = sha256(dev);
      let got = '';
      for (let i = 0; i < 40 && got !== want; i++) {
        await new Promise((r) => setTimeout(r, 250));
        const latest = runCliJson<{ seq: number }>(['point', 'vol', '--at', 'now', '-a', app]).seq;
        const out = join(tmp.dir, 'tracked.img');
        expect(runCli(['image', 'vol', '--at', String(latest), '--out', out, '--force', '-a', app]).status).toBe(0);
        got = sha256(out);
      }
      expect(got).toBe(want);
    } finally {
      await stop(w, 'SIGTERM');
    }
    expect(w.lines.at(-1)!.event).toBe('stopped');
    expect(instancesOf(w.child.pid!)).toEqual([]);
  });

  it('catches changes made while it was stopped, and after SIGKILL, with a scan at start', async () => {
    // Changed while no writer ran.
    sh('mount', [dev, mnt]);
    writeFileSync(join(mnt, 'offline.txt'), 'written while stopped\n');
    sh('umount', [mnt]);
    let w = await startRun(app);
    await w.waitFor((l) => l.event === 'point' && l.how === 'scan', 30_000);
    const seq = runCliJson<{ seq: number }>(['point', 'vol', '--at', 'now', '-a', app]).seq;
    expect(fileInImage(app, 'vol', seq, tmp.dir, '/offline.txt')).toBe('written while stopped\n');

    // SIGKILL in the middle of capture: a restart resumes with a scan, nothing lost.
    sh('mount', [dev, mnt]);
    for (let i = 0; i < 30; i++) writeFileSync(join(mnt, `burst${i}`), Buffer.alloc(200_000, i));
    sh('sync', []);
    await stop(w, 'SIGKILL');
    // Every point the killed writer announced (it announces only durable ones) is still there.
    const announced = w.lines.filter((l) => l.event === 'point').map((l) => l.seq as number);
    expect(announced.length).toBeGreaterThan(0);
    sh('umount', [mnt]);
    w = await startRun(app);
    try {
      const kept = runCliJson<{ points: Array<{ seq: number }> }>(['timeline', 'vol', '--all', '-a', app]).points.map((p) => p.seq);
      expect(announced.filter((seq) => !kept.includes(seq))).toEqual([]);
      await new Promise((r) => setTimeout(r, 1000));
      const latest = runCliJson<{ seq: number }>(['point', 'vol', '--at', 'now', '-a', app]).seq;
      const out = join(tmp.dir, 'after-kill.img');
      expect(runCli(['image', 'vol', '--at', String(latest), '--out', out, '--force', '-a', app]).status).toBe(0);
      expect(sha256(out)).toBe(sha256(dev));
    } finally {
      await stop(w, 'SIGTERM');
    }
    expect(runCli(['check', '-a', app, '--read-data']).status).toBe(0);
  });
});
