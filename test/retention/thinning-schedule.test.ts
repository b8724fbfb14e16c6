import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';
import { thinInParts, thinToPolicy } from '../../electron/engine/retention/thinning-schedule.js';
import { setDiskPolicy } from '../../electron/engine/retention/policy-settings.js';
import { sh, tempDir } from '../devices/loop-device.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { imageHash, randomHistory, sha256, type Shadowed } from '../helpers/history.js';
import type { DiskRecord } from '../../electron/engine/store/catalog-state.js';
import { startServiceProcess } from '../service/service-fixture.js';
import { run } from '../nbd/fixtures.js';

const MiB = 1024 * 1024;
const DAY = 86_400e6;
const tmp = tempDir('chronodisk-thin-schedule-');
afterAll(() => tmp.remove());

type Timeline = { points: Array<{ seq: number }> };

/**
 * A writable appliance in tmp/NAME with one disk `a` of `sizeMiB` and a random history
 * (every batch a point, each point's image hash kept), given to `fn`, then closed.
 */
async function withHistory(
  name: string,
  o: { segmentMiB: number; sizeMiB: number; seed: number; writes: number; maxLength: number },
  fn: (app: Appliance, disk: DiskRecord, history: Shadowed[]) => Promise<void>,
): Promise<void> {
  const dir = join(tmp.dir, name);
  await Appliance.init(dir, {});
  const app = await Appliance.open(dir, { writable: true, segmentTargetSize: o.segmentMiB * MiB });
  try {
    const disk = app.addDisk({ name: 'a', size: o.sizeMiB * MiB, source: '/dev/null', mode: 'scan', blockSize: 65536, identity: {} });
    await fn(app, disk, await randomHistory(app, disk, { seed: o.seed, writes: o.writes, maxLength: o.maxLength, keepEvery: 1 }));
  } finally {
    app.close();
  }
}

/**
 * Thinning by the retention policies on a clock (ThinningSchedule): every writer keeps
 * each disk's history to its policy, not only when the appliance runs low. thinToPolicy
 * with an injected clock, then `run` and `service` with --thin-every on real processes.
 */
describe('thinning by the policies on a schedule', () => {
  it('thinToPolicy removes exactly what the policy lets go, and every kept point reads as before', async () => {
    await withHistory('engine', { segmentMiB: 4, sizeMiB: 16, seed: 7, writes: 1500, maxLength: 30_000 }, async (app, disk, history) => {
      const points = app.timeline.points(disk);
      app.addBookmark(disk, points[3]!, 'pinned');
      // Three days on: with one day of every point and nothing beyond, only the bookmark and the latest stay.
      setDiskPolicy(app, disk, { keepAll: DAY, hourly: 0, daily: 0, weekly: 0 });
      const nowUs = points.at(-1)!.timeUs + 3 * DAY;
      const plan = planThinning(app, nowUs);
      const kept = history.filter((h) => !plan.disks[0]!.removed.some((r) => r.seq === h.seq));
      expect(kept.map((k) => k.seq)).toEqual([points[3]!.seq, points.at(-1)!.seq]);

      const r = await thinToPolicy(app, nowUs);
      expect(r).toMatchObject({ removedPoints: plan.removedPoints, unfinished: false });
      expect(r.bytesRewritten).toBeGreaterThan(0);
      expect(app.timeline.points(disk).map((p) => p.seq)).toEqual([points[3]!.seq, points.at(-1)!.seq]);
      for (const k of kept) expect(imageHash(app, disk, k.seq), `a@${k.seq}`).toBe(k.hash);
      // A second round finds nothing due.
      expect(await thinToPolicy(app, nowUs)).toEqual({ removedPoints: 0, bytesFreed: 0, bytesRewritten: 0, unfinished: false });
    });
  }, 120_000);

  it('thinInParts carries a plan out in short parts, oldest first, to the same end', async () => {
    await withHistory('parts', { segmentMiB: 1, sizeMiB: 8, seed: 5, writes: 800, maxLength: 30_000 }, async (app, disk, history) => {
      const seqs = app.timeline.points(disk).map((p) => p.seq);
      const keep = new Set(seqs.filter((s, i) => i % 4 === 0 || s === seqs.at(-1)));
      const plan = planThinning(app, Date.now() * 1000, () => keep);
      const progress: number[] = [];
      // No part can be as small as a byte: each is then the oldest removal alone.
      const r = await thinInParts(app, plan, { partBytes: 1, onProgress: (done) => progress.push(done) });
      expect(r).toMatchObject({ removedPoints: plan.removedPoints, unfinished: false });
      expect(plan.removedPoints).toBeGreaterThan(5);
      expect(progress).toHaveLength(plan.removedPoints);
      expect(progress).toEqual([...progress].sort((x, y) => x - y));
      expect(app.timeline.points(disk).map((p) => p.seq)).toEqual(seqs.filter((s) => keep.has(s)));
      for (const k of history.filter((h) => keep.has(h.seq))) expect(imageHash(app, disk, k.seq), `a@${k.seq}`).toBe(k.hash);
    });
  }, 120_000);

  it('two thinnings planned at once (the space guard beside a scheduled round) both land, and every point kept by both reads as before', async () => {
    await withHistory('two', { segmentMiB: 2, sizeMiB: 8, seed: 11, writes: 1200, maxLength: 40_000 }, async (app, disk, history) => {
      const seqs = app.timeline.points(disk).map((p) => p.seq);
      const latest = seqs.at(-1)!;
      // The first lets every third point go; the second every other one of the first half.
      const first = new Set(seqs.filter((s, i) => i % 3 !== 1 || s === latest));
      const second = new Set(seqs.filter((s, i) => i >= seqs.length / 2 || i % 2 === 0));
      const a = planThinning(app, Date.now() * 1000, () => first);
      const b = planThinning(app, Date.now() * 1000, () => second);
      // Both made before either runs: the second waits for the first's swap, then finds every record moved.
      await Promise.all([executeThinning(app, a), executeThinning(app, b)]);
      const kept = history.filter((h) => first.has(h.seq) && second.has(h.seq));
      expect(app.timeline.points(disk).map((p) => p.seq)).toEqual(kept.map((k) => k.seq));
      for (const k of kept) expect(imageHash(app, disk, k.seq), `a@${k.seq}`).toBe(k.hash);
    });
  }, 120_000);

  /** An appliance with a 4 MiB file disk captured five times (changed between), its second point bookmarked, and a policy that keeps only bookmarks and the latest. */
  function historyToThin(name: string): { app: string; marked: number; latest: number; shas: Map<number, string>; points: number } {
    const app = join(tmp.dir, name);
    const vol = join(tmp.dir, `${name}.img`);
    sh('truncate', ['-s', '4M', vol]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', vol, '--name', 'vol', '-a', app]).status).toBe(0);
    for (let i = 0; i < 5; i++) {
      sh('dd', ['if=/dev/urandom', `of=${vol}`, 'bs=64K', `seek=${i * 3}`, 'count=4', 'conv=notrunc', 'status=none']);
      expect(runCli(['capture', 'vol', '-a', app]).status).toBe(0);
    }
    const points = runCliJson<Timeline>(['timeline', 'vol', '-a', app]).points.map((p) => p.seq);
    expect(runCli(['mark', 'vol', 'pinned', '--at', String(points[1]), '-a', app]).status).toBe(0);
    expect(runCli(['retention', 'vol', '--keep-all', '0', '--hourly', '0', '--daily', '0', '--weekly', '0', '-a', app]).status).toBe(0);
    const shas = new Map<number, string>();
    for (const seq of [points[1]!, points.at(-1)!]) {
      const out = join(tmp.dir, `${name}-${seq}.img`);
      expect(runCli(['image', 'vol', '--at', String(seq), '--out', out, '-a', app]).status).toBe(0);
      shas.set(seq, sha256(readFileSync(out)));
    }
    return { app, marked: points[1]!, latest: points.at(-1)!, shas, points: points.length };
  }

  function expectThinned(h: ReturnType<typeof historyToThin>): void {
    expect(runCliJson<Timeline>(['timeline', 'vol', '-a', h.app]).points.map((p) => p.seq)).toEqual([h.marked, h.latest]);
    for (const [seq, sha] of h.shas) {
      const out = join(tmp.dir, `after-${seq}.img`);
      expect(runCli(['image', 'vol', '--at', String(seq), '--out', out, '--force', '-a', h.app]).status).toBe(0);
      expect(sha256(readFileSync(out)), `point ${seq} after thinning`).toBe(sha);
    }
    expect(runCli(['check', '--read-data', '-a', h.app]).status).toBe(0);
  }

  it('chronodisk run --thin-every thins while it captures, and says so', async () => {
    const h = historyToThin('run');
    const run = await startServiceProcess(['-a', h.app, '--thin-every', '1s', '--interval', '3600', '--no-idle'], 'run');
    try {
      const line = await run.waitFor((l) => l.event === 'thinned', 30_000);
      expect(line).toMatchObject({ removedPoints: h.points - 2, unfinished: false });
    } finally {
      expect(await run.stop('SIGTERM')).toBe(0);
    }
    expectThinned(h);
  }, 120_000);

  it('the service thins on its schedule as a job, and --thin-every 0 never does', async () => {
    const h = historyToThin('service');
    const socket = join(tmp.dir, 'service.sock');
    const never = await startServiceProcess(['-a', h.app, '--socket', socket, '--split-dir', tmp.dir, '--thin-every', '0', '--no-idle']);
    try {
      // A round would come within a second or two at most: three seconds show there is none.
      await new Promise((r) => setTimeout(r, 3000));
      expect(never.lines.filter((l) => l.event === 'job' && l.kind === 'thin')).toEqual([]);
    } finally {
      expect(await never.stop('SIGTERM')).toBe(0);
    }
    expect(runCliJson<Timeline>(['timeline', 'vol', '-a', h.app]).points).toHaveLength(h.points);

    const service = await startServiceProcess(['-a', h.app, '--socket', socket, '--split-dir', tmp.dir, '--thin-every', '2s', '--no-idle']);
    try {
      const job = await service.waitFor((l) => l.event === 'job' && l.kind === 'thin', 30_000);
      expect(job).toMatchObject({ phase: 'done', result: expect.stringMatching(new RegExp(`^Thinned: ${h.points - 2} points removed, `)) });
    } finally {
      expect(await service.stop('SIGTERM')).toBe(0);
    }
    expectThinned(h);
  }, 120_000);

  it('scheduled rounds beside split writes: every write lands, the source equals the latest point, and the appliance checks clean', async () => {
    const app = join(tmp.dir, 'split-app');
    const source = join(tmp.dir, 'split-source.img');
    const data = join(tmp.dir, 'split-data.bin');
    sh('truncate', ['-s', '16M', source]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', source, '--mode', 'split', '--name', 'vm', '-a', app]).status).toBe(0);
    expect(runCli(['retention', 'vm', '--keep-all', '0', '--hourly', '0', '--daily', '0', '--weekly', '0', '-a', app]).status).toBe(0);
    const writer = await startServiceProcess(['-a', app, '--split-dir', tmp.dir, '--thin-every', '1s', '--interval', '3600', '--no-idle'], 'run');
    let copies = 0;
    try {
      const { uri } = (await writer.waitFor((l) => l.event === 'listening' && l.disk === 'vm')) as { uri: string };
      // Whole-disk copies (a point per request) for as long as it takes two rounds to thin beside them.
      const until = Date.now() + 60_000;
      while (writer.lines.filter((l) => l.event === 'thinned').length < 2 || copies < 4) {
        if (Date.now() > until) throw new Error(`only ${copies} copies and ${writer.lines.filter((l) => l.event === 'thinned').length} rounds in 60 s`);
        writeFileSync(data, randomBytes(16 * MiB));
        const r = await run('nbdcopy', ['--flush', data, uri], { timeoutMs: 60_000 });
        expect(r.code, r.stderr).toBe(0);
        copies++;
      }
    } finally {
      expect(await writer.stop('SIGTERM')).toBe(0);
    }
    const removed = writer.lines.filter((l) => l.event === 'thinned').reduce((n, l) => n + (l.removedPoints as number), 0);
    expect(removed).toBeGreaterThan(copies);
    const last = sha256(readFileSync(data));
    expect(sha256(readFileSync(source))).toBe(last);
    const now = join(tmp.dir, 'split-now.img');
    expect(runCli(['image', 'vm', '--at', 'now', '--out', now, '-a', app]).status).toBe(0);
    expect(sha256(readFileSync(now))).toBe(last);
    expect(runCli(['check', '--read-data', '-a', app]).status).toBe(0);
  }, 180_000);

  it('refuses a --thin-every that is not a duration, and changes nothing', () => {
    const r = runCli(['run', '-a', join(tmp.dir, 'run'), '--thin-every', '5x']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 2, stderr: 'chronodisk: --thin-every 5x is not a duration: use a number with s, m, h, d, w or y (e.g. 30d), 0 for none, or inf\n' });
  });
});
