import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, fdatasyncSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSource } from '../../electron/engine/devices/block-device.js';
import { ensureTracefs, instanceName, listOurInstances, removeStaleInstances, TRACEFS_ROOT } from '../../electron/engine/devices/tracefs.js';
import { type TrackerEvent, WriteTracker } from '../../electron/engine/devices/write-tracker.js';
import { isChronodiskError } from '../../electron/engine/errors.js';
import { reachableRepo, spawnUnprivileged } from '../helpers/unprivileged.js';
import { attachLoop, makeImage, makePartitionedImage, repoRoot, tempDir, tsNodeArgs } from './loop-device.js';

const MiB = 1024 * 1024;
type Range = [number, number];

/** Sorted, merged [start, end) ranges. */
function union(ranges: Range[]): Range[] {
  const out: Range[] = [];
  for (const [s, e] of [...ranges].sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

const writesOf = (events: TrackerEvent[]): Range[] =>
  union(events.flatMap((e) => (e.kind === 'write' ? [[e.offset, e.offset + e.length] as Range] : [])));

/** Writes random bytes with O_DIRECT through dd: exactly these sectors reach the device. */
function ddWrite(device: string, offset: number, length: number): void {
  const r = spawnSync('dd', ['if=/dev/urandom', `of=${device}`, `bs=${length}`, 'count=1', `seek=${offset}`, 'oflag=direct,seek_bytes', 'conv=notrunc'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return;
    await sleep(10);
  }
}

/** A zram device's number, if the kernel has one: a bio-based disk always at hand. */
function decodeZram(): { major: number; minor: number } | undefined {
  try {
    const [major, minor] = readFileSync('/sys/class/block/zram0/dev', 'utf8').trim().split(':').map(Number);
    return { major, minor };
  } catch {
    return undefined;
  }
}

const instanceGone = (name: string) => !existsSync(join(TRACEFS_ROOT, 'instances', name));

describe('WriteTracker on real loop devices', () => {
  const tmp = tempDir();
  beforeAll(async () => {
    await ensureTracefs();
  });
  afterAll(() => tmp.remove());

  it('reports exactly the ranges written to a loop device, then removes its instance', async () => {
    const loop = attachLoop(makeImage(join(tmp.dir, 'whole.img'), 64 * MiB));
    const events: TrackerEvent[] = [];
    let tracker: WriteTracker | undefined;
    try {
      tracker = await WriteTracker.start(await probeSource(loop.device), { name: 'whole', onEvents: (e) => events.push(...e) });
      const name = instanceName('whole');
      expect(listOurInstances()).toContain(name);
      const written: Range[] = [
        [1 * MiB, 1 * MiB + 64 * 1024],
        [10 * MiB + 4096, 10 * MiB + 8192],
        [40 * MiB, 41 * MiB],
        [64 * MiB - 512, 64 * MiB],
      ];
      for (const [s, e] of written) ddWrite(loop.device, s, e - s);
      await waitFor(() => JSON.stringify(writesOf(events)) === JSON.stringify(union(written)));
      expect(writesOf(events)).toEqual(union(written));

      // A flush reaches us as a flush.
      spawnSync('blockdev', ['--flushbufs', loop.device]);
      ddWrite(loop.device, 0, 4096);
      const fd = openSync(loop.device, 'r+');
      fdatasyncSync(fd);
      closeSync(fd);
      await waitFor(() => events.some((e) => e.kind === 'flush'));
      expect(events.some((e) => e.kind === 'flush')).toBe(true);
      expect(events.some((e) => e.kind === 'lost')).toBe(false);

      await tracker.stop();
      expect(instanceGone(name)).toBe(true);
      await tracker.stop(); // idempotent
    } finally {
      await tracker?.stop();
      loop.detach();
    }
  });

  it('drain() delivers every completed write at once, without waiting for a poll', async () => {
    const loop = attachLoop(makeImage(join(tmp.dir, 'drain.img'), 32 * MiB));
    const events: TrackerEvent[] = [];
    let tracker: WriteTracker | undefined;
    try {
      // A poll interval far beyond the test: only drain() can deliver.
      tracker = await WriteTracker.start(await probeSource(loop.device), { name: 'drain', pollMs: 600_000, onEvents: (e) => events.push(...e) });
      await sleep(50); // the first poll finds the pipe empty
      const written: Range[] = [];
      for (let i = 0; i < 20; i++) {
        const at = i * MiB + i * 4096;
        ddWrite(loop.device, at, 8192);
        written.push([at, at + 8192]);
        await tracker.drain();
        expect(writesOf(events)).toEqual(union(written));
      }
    } finally {
      await tracker?.stop();
      loop.detach();
    }
  });

  it('reports writes to a partition relative to its start, and nothing from its neighbour', async () => {
    const image = makePartitionedImage(join(tmp.dir, 'parted.img'), 64 * MiB, [
      [2048, 40960],
      [43008, 40960],
    ]);
    const loop = attachLoop(image, { partitions: 2 });
    const events: TrackerEvent[] = [];
    let tracker: WriteTracker | undefined;
    try {
      const p2 = await probeSource(loop.partitions[1]);
      tracker = await WriteTracker.start(p2, { name: 'part2', onEvents: (e) => events.push(...e) });
      ddWrite(loop.partitions[0], 0, 65536); // the other partition: not ours
      ddWrite(loop.partitions[1], 0, 4096);
      ddWrite(loop.partitions[1], 5 * MiB, 128 * 1024);
      // Through the whole disk, across the boundary: only p2's half counts.
      const start = 43008 * 512;
      ddWrite(loop.device, start - 8192, 16384);
      const expected = union([
        [0, 8192],
        [5 * MiB, 5 * MiB + 128 * 1024],
      ]);
      await waitFor(() => JSON.stringify(writesOf(events)) === JSON.stringify(expected));
      expect(writesOf(events)).toEqual(expected);
    } finally {
      await tracker?.stop();
      loop.detach();
    }
    expect(instanceGone(instanceName('part2'))).toBe(true);
  });

  // Two ways to learn of it: the pipe's "CPU:n [LOST m EVENTS]" line, and per-CPU overrun counters.
  for (const [how, pollMs, statsEveryMs, reason] of [
    ['from the pipe', 1000, 600_000, /^the kernel lost \d+ trace events$/],
    ['from the overrun counters', 600_000, 200, /^the trace buffer overran \(\d+ events\)$/],
  ] as const) {
  it(`says events were lost when the ring buffer overruns (${how})`, async () => {
    const loop = attachLoop(makeImage(join(tmp.dir, 'lost.img'), 64 * MiB));
    const events: TrackerEvent[] = [];
    let tracker: WriteTracker | undefined;
    try {
      // A tiny buffer read rarely: 4,000 direct writes cannot fit.
      tracker = await WriteTracker.start(await probeSource(loop.device), {
        name: 'lost',
        bufferKb: 4,
        pollMs,
        statsEveryMs,
        onEvents: (e) => events.push(...e),
      });
      await sleep(100); // let the first read of the empty pipe happen
      spawnSync('dd', ['if=/dev/zero', `of=${loop.device}`, 'bs=4k', 'count=4000', 'oflag=direct', 'conv=notrunc']);
      await waitFor(() => events.some((e) => e.kind === 'lost'), 8000);
      expect(events.find((e) => e.kind === 'lost')).toMatchObject({ kind: 'lost', reason: expect.stringMatching(reason) });
    } finally {
      await tracker?.stop();
      loop.detach();
    }
  });
  }

  it('refuses a bio-based device (zram, dm, md), whose writes the tracepoint never shows', async () => {
    const zram = decodeZram();
    if (!zram) return; // no such device on this machine
    const err = await WriteTracker.start({ disk: zram, start: 0, size: 0 }, { name: 'zram', onEvents: () => undefined }).catch((e: unknown) => e);
    expect(isChronodiskError(err, 'refused')).toBe(true);
    expect((err as Error).message).toMatch(/stacked or bio-based device .*use scan mode$/);
    expect(instanceGone(instanceName('zram'))).toBe(true);
  });

  it('tells an unprivileged user that track mode needs root', async () => {
    const loop = attachLoop(makeImage(join(tmp.dir, 'unpriv.img'), 16 * MiB));
    const repo = reachableRepo();
    const script = join(tmp.dir, 'unpriv-child.ts');
    writeFileSync(
      script,
      `import { WriteTracker } from ${JSON.stringify(repo.path(join(repoRoot, 'electron/engine/devices/write-tracker.js')))};
WriteTracker.start({ disk: { major: 7, minor: Number(process.argv[2]) }, start: 0, size: 16 * 1024 * 1024 }, { name: 'unpriv', onEvents: () => {} })
  .then(() => console.log('started'), (e) => console.log(e.code + ': ' + e.message));\n`,
    );
    try {
      spawnSync('chmod', ['755', tmp.dir]);
      const r = spawnUnprivileged(process.execPath, [...tsNodeArgs.map(repo.path), script, loop.device.slice('/dev/loop'.length)], {
        cwd: tmp.dir,
        env: { ...process.env, HOME: tmp.dir },
      });
      expect(r.stdout.trim()).toMatch(/^permission: (track mode needs root|mounting tracefs at \/sys\/kernel\/tracing needs root)/);
    } finally {
      loop.detach();
      repo.release();
    }
  });

  it('removes stale instances of dead processes, and leaves live ones alone', async () => {
    const dead = spawnSync('true').pid!;
    const staleName = instanceName('stale', dead);
    const stale = join(TRACEFS_ROOT, 'instances', staleName);
    mkdirSync(stale);
    writeFileSync(join(stale, 'events/block/block_rq_complete/filter'), 'dev == 7340032');
    writeFileSync(join(stale, 'events/block/block_rq_complete/enable'), '1');
    const mine = join(TRACEFS_ROOT, 'instances', instanceName('mine'));
    mkdirSync(mine);
    try {
      expect(removeStaleInstances()).toContain(staleName);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(mine)).toBe(true);
    } finally {
      spawnSync('rmdir', [stale, mine]);
    }
  });

  // 'own-handler': the program handles SIGTERM itself and exits; the exit hook cleans up.
  for (const [sig, ownHandler] of [
    ['SIGTERM', false],
    ['SIGTERM', true],
    ['SIGKILL', false],
  ] as const) {
    it(`leaves no instance behind when a tracking process gets ${sig}${ownHandler ? ' and exits from its own handler' : ''}`, async () => {
      const loop = attachLoop(makeImage(join(tmp.dir, `sig-${sig}-${ownHandler}.img`), 16 * MiB));
      const script = join(tmp.dir, 'tracker-child.ts');
      writeFileSync(
        script,
        `import { probeSource } from ${JSON.stringify(join(repoRoot, 'electron/engine/devices/block-device.js'))};
import { WriteTracker } from ${JSON.stringify(join(repoRoot, 'electron/engine/devices/write-tracker.js'))};
${ownHandler ? "process.on('SIGTERM', () => setTimeout(() => process.exit(3), 50));" : ''}
const t = await WriteTracker.start(await probeSource(process.argv[2]), { name: 'child', onEvents: () => {} });
console.log(t.instanceDir);\n`,
      );
      const child = spawn(process.execPath, [...tsNodeArgs, script, loop.device], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const [out] = (await once(child.stdout!, 'data')) as [Buffer];
        const dir = out.toString().trim();
        expect(dir).toBe(join(TRACEFS_ROOT, 'instances', instanceName('child', child.pid)));
        expect(existsSync(dir)).toBe(true);
        child.kill(sig);
        const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
        expect({ code, signal }).toEqual(ownHandler ? { code: 3, signal: null } : { code: null, signal: sig });
        // SIGKILL cannot be caught: the next start (removeStaleInstances) cleans up.
        if (sig === 'SIGKILL') removeStaleInstances();
        expect(existsSync(dir)).toBe(false);
      } finally {
        child.kill('SIGKILL');
        loop.detach();
      }
    });
  }

  it('measures write-to-event latency (reported, not asserted)', async () => {
    const loop = attachLoop(makeImage(join(tmp.dir, 'latency.img'), 64 * MiB));
    const arrivals = new Map<number, number>();
    let tracker: WriteTracker | undefined;
    const fd = openSync(loop.device, 'r+');
    try {
      tracker = await WriteTracker.start(await probeSource(loop.device), {
        name: 'latency',
        onEvents: (events) => {
          const now = performance.now();
          for (const e of events) if (e.kind === 'write' && !arrivals.has(e.offset)) arrivals.set(e.offset, now);
        },
      });
      const latencies: number[] = [];
      const block = Buffer.alloc(4096, 7);
      for (let i = 0; i < 30; i++) {
        const offset = i * MiB;
        writeSync(fd, block, 0, block.length, offset);
        fdatasyncSync(fd); // the write request has completed when this returns
        const done = performance.now();
        await waitFor(() => arrivals.has(offset));
        expect(arrivals.has(offset)).toBe(true);
        latencies.push(arrivals.get(offset)! - done);
        await sleep(Math.random() * 50);
      }
      latencies.sort((a, b) => a - b);
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
      console.log(`write-tracker latency, fdatasync return → event: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms (n=${latencies.length})`);
    } finally {
      closeSync(fd);
      await tracker?.stop();
      loop.detach();
    }
  });
});
