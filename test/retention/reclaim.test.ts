import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { checkAppliance } from '../../electron/engine/check.js';
import { ensureSpace, freeBytes } from '../../electron/engine/retention/space-guard.js';
import { imageHash, sha256 } from '../helpers/history.js';
import { mountTmpfs, unmount } from '../devices/loop-device.js';

/**
 * A capture batch that fails half way (the appliance filled up during a long pass) has
 * sealed segment after segment that no point refers to. The space guard retires them
 * before it gives up any point; the points before keep reading the same bytes, also for a
 * reader that had the appliance open all along, and the writer goes on committing.
 */

const MiB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-reclaim-'));
const mnt = join(root, 'fs');
afterAll(() => {
  unmount(mnt);
  rmSync(root, { recursive: true, force: true });
});

describe('segments of a failed batch', () => {
  it('are given back by the space guard; every point reads as before', async () => {
    mountTmpfs(mnt, '40m');
    const dir = join(mnt, 'app');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true, segmentTargetSize: 2 * MiB });
    const reader = await Appliance.open(dir);
    try {
      const d = app.addDisk({ name: 'd', size: 64 * MiB, source: '/dev/null', mode: 'scan', blockSize: 65536, identity: {} });
      const shadow = Buffer.alloc(d.size);
      const commit = async (offset: number, bytes: number) => {
        const b = app.beginBatch(d);
        const data = randomBytes(bytes);
        b.write(offset, data);
        data.copy(shadow, offset);
        return { seq: (await b.commit()).seq, hash: sha256(shadow) };
      };
      const first = await commit(0, 6 * MiB);
      const freeAfterFirst = freeBytes(dir);

      // 60 MiB of random data in one batch cannot fit in the ~33 MiB left.
      const big = app.beginBatch(d);
      const failure = await (async () => {
        for (let at = 0; at < 60 * MiB; at += MiB) {
          big.write(at, randomBytes(MiB));
          await big.drained();
        }
        await big.commit();
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((failure as { code?: string } | undefined)?.code).toBe('no-space');
      big.abort();
      expect(freeBytes(dir)).toBeLessThan(8 * MiB);
      const liveBefore = app.catalog.state.liveSegments().length;

      reader.refresh();
      expect(imageHash(reader, reader.disk('d'), first.seq)).toBe(first.hash);

      const space = await ensureSpace(app);
      expect(space.state).toBe('ok');
      expect(app.catalog.state.liveSegments().length).toBeLessThan(liveBefore - 5);
      expect(freeBytes(dir)).toBeGreaterThan(freeAfterFirst - 2.5 * MiB);
      expect(app.timeline.points(d).map((p) => p.seq)).toEqual([first.seq]);
      expect(imageHash(app, d, first.seq)).toBe(first.hash);

      // The reader learns of the new generation and still reads the point's own bytes.
      reader.refresh();
      expect(imageHash(reader, reader.disk('d'), first.seq)).toBe(first.hash);

      const second = await commit(32 * MiB, 4 * MiB);
      expect(imageHash(app, d, second.seq)).toBe(second.hash);
      const report = checkAppliance(app, { readData: true });
      expect(report.problems).toEqual([]);
    } finally {
      reader.close();
      app.close();
    }

    // Reopened (its index replayed from where it stood), the history is the same.
    const again = await Appliance.open(dir, { writable: true });
    try {
      const d = again.disk('d');
      expect(again.timeline.points(d)).toHaveLength(2);
      expect((again.index.db.prepare('SELECT count(*) AS n FROM staged').get() as { n: number }).n).toBe(0);
      expect(checkAppliance(again, { readData: true }).problems).toEqual([]);
    } finally {
      again.close();
    }
  }, 120_000);
});
