import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { checkAppliance } from '../../electron/engine/check.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';
import { imageHash, sha256 } from '../helpers/history.js';

/**
 * Thinning writes its new segments before it retires the old ones, so on a nearly full
 * device it can run out of room. Then it must fail with no-space and leave the appliance
 * exactly as it was: no half-written segment files taking the little room there is, every
 * point still reading back, and the writer still committing.
 */

const MiB = 1024 * 1024;
const KiB = 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-thin-full-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('thinning on a full device', () => {
  const mnt = join(root, 'small');
  afterAll(() => {
    spawnSync('umount', [mnt]);
  });

  it('fails with no-space, leaves no stray segment, and everything reads and commits as before', async () => {
    mkdirSync(mnt, { recursive: true });
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=28m', 'tmpfs', mnt]).status).toBe(0);
    const dir = join(mnt, 'app');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true, segmentTargetSize: 2 * MiB });
    try {
      const d = app.addDisk({ name: 'd', size: 8 * MiB, source: '/dev/null', mode: 'scan', blockSize: 65536, identity: {} });
      // ~20 MiB of random (incompressible) writes, 256 KiB a point.
      const shadow = Buffer.alloc(d.size);
      const points: Array<{ seq: number; hash: string }> = [];
      for (let i = 0; i < 80; i++) {
        const b = app.beginBatch(d);
        const data = randomBytes(256 * KiB);
        const offset = (i % 32) * 256 * KiB;
        b.write(offset, data);
        data.copy(shadow, offset);
        points.push({ seq: (await b.commit()).seq, hash: sha256(shadow) });
      }
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
      app.close();
    }
  });
});
