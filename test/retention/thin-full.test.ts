import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { checkAppliance } from '../../electron/engine/check.js';
import { executeThinning, planThinning, rewriteBytes } from '../../electron/engine/retention/thin.js';
import { ensureSpace, fitPlan, freeBytes } from '../../electron/engine/retention/space-guard.js';
import { imageHash, sha256 } from '../helpers/history.js';
import { mountTmpfs, unmount } from '../devices/loop-device.js';

/**
 * Thinning writes its new segments before it retires the old ones, so on a nearly full
 * device it can run out of room. Then it must fail with no-space and leave the appliance
 * exactly as it was: no half-written segment files taking the little room there is, every
 * point still reading back, and the writer still committing. The space guard thins such
 * a history in parts that fit, and keeps room above the floor for the next capture step.
 */

const MiB = 1024 * 1024;
const KiB = 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-thin-full-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('thinning on a full device', () => {
  // Should a test stop before its own umount.
  afterAll(() => {
    for (const name of ['small', 'small2', 'small3']) unmount(join(root, name));
  });
  /**
   * An appliance on a tmpfs of `size` with 80 points of 256 KiB of random (incompressible)
   * data, point i written at `offsetOf(i)` of an 8 MiB disk.
   */
  async function history(name: string, size: string, offsetOf: (i: number) => number) {
    const at = join(root, name);
    mountTmpfs(at, size);
    const dir = join(at, 'app');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true, segmentTargetSize: 2 * MiB });
    const d = app.addDisk({ name: 'd', size: 8 * MiB, source: '/dev/null', mode: 'scan', blockSize: 65536, identity: {} });
    const shadow = Buffer.alloc(d.size);
    const points: Array<{ seq: number; hash: string }> = [];
    for (let i = 0; i < 80; i++) {
      const b = app.beginBatch(d);
      const data = randomBytes(256 * KiB);
      b.write(offsetOf(i), data);
      data.copy(shadow, offsetOf(i));
      points.push({ seq: (await b.commit()).seq, hash: sha256(shadow) });
    }
    const close = () => {
      try {
        app.close();
      } finally {
        unmount(at);
      }
    };
    return { app, dir, d, shadow, points, close };
  }
  /** Each point writes its own place (32 of them, round after round). */
  const ownPlace = (i: number) => (i % 32) * 256 * KiB;
  /** Each pair of points writes the same place: removing the first of a pair frees it. */
  const pairedPlace = (i: number) => (Math.floor(i / 2) % 32) * 256 * KiB;

  it('fails with no-space, leaves no stray segment, and everything reads and commits as before', async () => {
    // ~20 MiB on 28 MiB.
    const { app, dir, d, shadow, points, close } = await history('small', '28m', ownPlace);
    try {
      const segments = () => readdirSync(join(dir, 'segments')).sort();
      const before = segments();
      const live = app.catalog.state.liveSegments().length;

      // Keeping every other point rewrites nearly every segment: more than the room left.
      const keep = new Set(points.filter((_, i) => i % 2 === 1).map((p) => p.seq));
      const plan = planThinning(app, Date.now() * 1000, () => keep);
      const error = await executeThinning(app, plan).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as { code?: string } | undefined)?.code, String(error)).toBe('no-space');
      expect(segments()).toEqual(before);
      expect(app.catalog.state.liveSegments().length).toBe(live);
      for (const p of points.filter((_, i) => i % 10 === 0 || i === points.length - 1)) expect(imageHash(app, d, p.seq)).toBe(p.hash);

      // The writer goes on.
      const b = app.beginBatch(d);
      b.write(0, Buffer.alloc(4096, 3));
      const next = await b.commit();
      Buffer.alloc(4096, 3).copy(shadow, 0);
      expect(imageHash(app, d, next.seq)).toBe(sha256(shadow));
      expect(checkAppliance(app, { readData: true }).problems).toEqual([]);
    } finally {
      close();
    }
  });

  it('goes in parts that fit: every other point removed, oldest first, each part within the room there is', async () => {
    const { app, dir, d, points, close } = await history('small2', '28m', pairedPlace);
    try {
      const keep = new Set(points.filter((_, i) => i % 2 === 1).map((p) => p.seq));
      const freeBefore = freeBytes(dir);
      const margin = 2 * MiB;
      // As a whole it does not fit in the room there is: in parts it does.
      expect(rewriteBytes(app, planThinning(app, Date.now() * 1000, () => keep))).toBeGreaterThan(freeBefore - margin);
      let parts = 0;
      for (;;) {
        const budget = freeBytes(dir) - margin;
        const part = fitPlan(app, planThinning(app, Date.now() * 1000, () => keep), budget);
        if (part.removedPoints === 0) break;
        expect(rewriteBytes(app, part)).toBeLessThanOrEqual(budget);
        // Oldest first: a part never removes a point newer than one it leaves.
        const gone = part.disks[0]!.removed.map((r) => r.seq);
        const left = app.timeline.points(d).map((p) => p.seq).filter((s) => !keep.has(s) && !gone.includes(s));
        expect(Math.max(...gone)).toBeLessThan(Math.min(Infinity, ...left));
        await executeThinning(app, part);
        parts++;
        expect(parts).toBeLessThan(40);
      }
      expect(parts).toBeGreaterThan(1);
      expect(app.timeline.points(d).map((p) => p.seq)).toEqual([...keep]);
      for (const p of points.filter((q) => keep.has(q.seq))) expect(imageHash(app, d, p.seq)).toBe(p.hash);
      expect(freeBytes(dir)).toBeGreaterThan(freeBefore);
      expect(checkAppliance(app, { readData: true }).problems).toEqual([]);
    } finally {
      close();
    }
  });

  it('keeps room above the floor for the next capture step: thins when asked to keep a reserve, and ends above both', async () => {
    const { app, dir, d, points, close } = await history('small3', '64m', pairedPlace);
    try {
      // The reserve is at most the floor again: a huge first pass does not cost history.
      app.setSetting('minFreeBytes', MiB);
      expect((await ensureSpace(app, { reserveBytes: 2 ** 40 })).state).toBe('ok');
      expect(app.timeline.points(d).length).toBe(points.length);
      // Two days on, the policy keeps one point an hour: here, the latest.
      const later = { nowUs: Date.now() * 1000 + 2 * 24 * 3600e6 };
      app.setSetting('minFreeBytes', freeBytes(dir) - 64 * KiB);
      expect((await ensureSpace(app, later)).state).toBe('ok');
      expect(app.timeline.points(d).length).toBe(points.length);
      const guarded = await ensureSpace(app, { ...later, reserveBytes: MiB });
      expect(guarded.state).toBe('thinned');
      expect(freeBytes(dir)).toBeGreaterThanOrEqual(app.setting<number>('minFreeBytes')! + MiB);
      expect(app.timeline.points(d).length).toBeLessThan(points.length);
      for (const p of points.filter((q) => app.timeline.points(d).some((k) => k.seq === q.seq))) expect(imageHash(app, d, p.seq)).toBe(p.hash);
      expect(checkAppliance(app, { readData: true }).problems).toEqual([]);
    } finally {
      close();
    }
  });
});
