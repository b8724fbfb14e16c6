import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { checkAppliance } from '../../electron/engine/check.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';
import { imageHash, randomHistory } from '../helpers/history.js';

const MiB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-thin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const du = (dir: string) => Number(execFileSync('du', ['-sb', join(dir, 'segments')], { encoding: 'utf8' }).split('\t')[0]);

describe.each([
  { name: 'plain', passphrase: undefined },
  { name: 'encrypted', passphrase: 'a long enough passphrase' },
])('thinning a $name appliance', ({ name, passphrase }) => {
  it('keeps every kept point byte-identical, drops the others from the timeline, and frees space', async () => {
    const dir = join(root, name);
    await Appliance.init(dir, { passphrase });
    const app = await Appliance.open(dir, { writable: true, passphrase, segmentTargetSize: 8 * MiB });
    try {
      const disk = { source: '/dev/null', mode: 'scan' as const, blockSize: 65536, identity: {} };
      const a = app.addDisk({ name: 'a', size: 32 * MiB, ...disk });
      const b = app.addDisk({ name: 'b', size: 8 * MiB, ...disk });
      // Two disks interleaved, a hot region rewritten again and again.
      const histA = randomHistory(app, a, { seed: 3, writes: 3000, maxLength: 20_000, keepEvery: 1 });
      const histB = randomHistory(app, b, { seed: 4, writes: 800, maxLength: 9_000, keepEvery: 1 });
      const [pa, pb] = await Promise.all([histA, histB]);
      const pointsA = app.timeline.points(a);
      app.addBookmark(a, pointsA[5]!, 'pinned');
      // Keep every fourth point of a (and its bookmark and latest), every other of b.
      const keep = (d: typeof a) => {
        const pts = app.timeline.points(d);
        const every = d === a ? 4 : 2;
        return new Set(pts.filter((_, i) => i % every === 0).map((p) => p.seq));
      };
      const plan = planThinning(app, Date.now() * 1000, (d) => {
        const k = keep(d.id === a.id ? a : b);
        if (d.id === a.id) k.add(pointsA[5]!.seq);
        k.add(app.timeline.latest(d)!.seq);
        return k;
      });
      expect(plan.removedPoints).toBeGreaterThan(50);
      const keptA = pa.filter((p) => !plan.disks[0]!.removed.some((r) => r.seq === p.seq));
      const keptB = pb.filter((p) => !plan.disks[1]!.removed.some((r) => r.seq === p.seq));
      for (const k of keptA) expect(imageHash(app, a, k.seq), `a@${k.seq} before thinning`).toBe(k.hash);
      const before = du(dir);

      const r = await executeThinning(app, plan);
      expect(r.bytesRewritten).toBeGreaterThan(0);
      for (const k of keptA) expect(imageHash(app, a, k.seq), `a@${k.seq}`).toBe(k.hash);
      for (const k of keptB) expect(imageHash(app, b, k.seq), `b@${k.seq}`).toBe(k.hash);
      const after = app.timeline.points(a).map((p) => p.seq);
      for (const gone of plan.disks[0]!.removed) expect(after).not.toContain(gone.seq);
      expect(after).toContain(pointsA[5]!.seq);
      expect(du(dir)).toBeLessThan(before);
      expect(checkAppliance(app, { readData: true }).problems).toEqual([]);

      // Capture goes on after thinning, and a rebuilt index agrees.
      const batch = app.beginBatch(a);
      batch.write(123, Buffer.alloc(5000, 9));
      const p = await batch.commit();
      app.close();
      await Appliance.rebuildIndex(dir, { passphrase });
      const ro = await Appliance.open(dir, { passphrase });
      try {
        for (const k of keptA) expect(imageHash(ro, ro.disk('a'), k.seq)).toBe(k.hash);
        expect(ro.image(ro.disk('a'), p.seq).readSync(123, 5000)).toEqual(Buffer.alloc(5000, 9));
      } finally {
        ro.close();
      }
    } finally {
      app.close();
    }
  });
});
