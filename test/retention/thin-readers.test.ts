import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { isChronodiskError } from '../../electron/engine/errors.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';
import { tsNodeArgs } from '../devices/loop-device.js';
import { imageHash, randomHistory } from '../helpers/history.js';

/**
 * Readers beside a thinning writer. A reader process reads kept points over and over while
 * the writer thins: every read must return the point's bytes exactly (the index is swapped
 * in one transaction, old files deleted only after it), and an image of a point the
 * thinning removed must fail with a clear error — in the reader process and in the
 * writer's own process — instead of returning a mix of the points around it.
 */

const MiB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-thin-readers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('readers during thinning', () => {
  it('read kept points exactly throughout, and are told when their point was removed', async () => {
    const dir = join(root, 'app');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true, segmentTargetSize: 4 * MiB });
    try {
      const a = app.addDisk({ name: 'a', size: 16 * MiB, source: '/dev/null', mode: 'scan', blockSize: 65536, identity: {} });
      const hist = await randomHistory(app, a, { seed: 21, writes: 6000, maxLength: 30_000, keepEvery: 1 });
      const points = app.timeline.points(a);
      // Keep every third point (and the latest); the reader watches a handful of kept ones.
      const keepSeqs = new Set(points.filter((_, i) => i % 3 === 0).map((p) => p.seq));
      keepSeqs.add(points.at(-1)!.seq);
      const kept = hist.filter((h) => keepSeqs.has(h.seq));
      const watched = [kept[1]!, kept[Math.floor(kept.length / 2)]!, kept.at(-1)!];
      const removedSeq = points.find((p) => !keepSeqs.has(p.seq))!.seq;
      const removedHere = app.image(a, removedSeq);
      removedHere.readSync(0, 4096); // fine before thinning

      const stop = join(root, 'stop');
      const reader = spawn(process.execPath, [...tsNodeArgs, join(import.meta.dirname, 'thin-reader.ts'), dir, stop, JSON.stringify(watched), String(removedSeq)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      reader.stdout.on('data', (d: Buffer) => (stdout += d));
      reader.stderr.on('data', (d: Buffer) => (stderr += d));
      const exited = new Promise<number | null>((r) => reader.once('close', r));
      const loops = () => (stdout.match(/^loop \d+$/gm) ?? []).length;
      const loopsPast = async (n: number) => {
        for (let i = 0; i < 600 && loops() < n && reader.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
        expect(loops(), stderr).toBeGreaterThanOrEqual(n);
      };
      await loopsPast(1);

      const plan = planThinning(app, Date.now() * 1000, () => new Set(keepSeqs));
      expect(plan.removedPoints).toBeGreaterThan(100);
      const t0 = Date.now();
      await executeThinning(app, plan);
      const t1 = Date.now();
      const after = loops();
      await loopsPast(after + 2);
      writeFileSync(stop, '');
      expect(await exited, stderr).toBe(0);

      const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as { reads: number; wrongCount: number; wrong: string[]; errorCount: number; errors: string[]; removedSeen: string };
      // The reader read while the thinning ran, not only before and after it.
      const reads = [...stdout.matchAll(/^read (\d+) (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])] as const);
      expect(reads.filter(([s, e]) => e > t0 && s < t1).length, `reads overlapping the thinning (${t1 - t0} ms)`).toBeGreaterThan(2);
      expect(seen.wrong).toEqual([]);
      expect(seen.errors).toEqual([]);
      expect(seen.removedSeen).toMatch(new RegExp(`point ${removedSeq} of a was removed by thinning`));

      // The writer's own image of the removed point says so too; kept points read exactly.
      const e = (() => {
        try {
          removedHere.readSync(0, 4096);
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(isChronodiskError(e, 'not-found'), String(e)).toBe(true);
      for (const k of kept.slice(0, 5)) expect(imageHash(app, a, k.seq)).toBe(k.hash);
    } finally {
      app.close();
    }
  });
});
