/**
 * A batch that never committed (an aborted capture step, a writer killed mid-pass) leaves
 * its records in sealed segments. Thinning that merges the points around it gives the
 * merged point a range of seqs that spans that batch's: its records must not come with it.
 * Found by a reader written from docs/FORMAT.md alone: before the fix, the image at the
 * later point changed after a prune, and check found nothing wrong.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { checkAppliance } from '../../electron/engine/check.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';
import { repoRoot } from '../helpers/cli.js';
import { imageHash } from '../helpers/history.js';
import { mountTmpfs, unmount } from '../devices/loop-device.js';

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-lost-batch-'));
const smallDrive = join(root, 'small-drive');
afterAll(() => {
  unmount(smallDrive);
  rmSync(root, { recursive: true, force: true });
});

const segmentCount = (dir: string) => readdirSync(join(dir, 'segments')).length;
/** Sealed segments the lost batch fills (of 1 MiB; it writes 8 MiB of random bytes). */
const LOST_SEGMENTS = 4;

/** Writes the whole disk with random bytes in 64 KiB writes and leaves the batch open. */
function writeWhole(batch: { write(offset: number, data: Buffer): void }): void {
  for (let at = 0; at < SIZE; at += 64 * 1024) batch.write(at, randomBytes(64 * 1024));
}

/** A child writer that writes a whole-disk batch into sealed segments and is SIGKILLed before it commits. */
async function crashMidBatch(dir: string): Promise<void> {
  const writer = join(repoRoot, 'dist/test/helpers/lost-batch-writer.js');
  const child = spawn(process.execPath, [writer, dir, String(segmentCount(dir) + LOST_SEGMENTS), String(MiB), String(SIZE)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => (c.toString().includes('ready') ? resolve() : undefined));
    child.on('exit', (code) => reject(new Error(`the writer exited (${code}) before its batch was written`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe.each(['aborted', 'killed', 'failed (drive full)'] as const)('a batch %s before its commit', (how) => {
  it('is never part of a point, before or after thinning merges the points around it', async () => {
    let dir = join(root, how);
    if (how === 'failed (drive full)') {
      mountTmpfs(smallDrive, '48m');
      dir = join(smallDrive, 'app');
    }
    await Appliance.init(dir);
    let app = await Appliance.open(dir, { writable: true, segmentTargetSize: MiB });
    const disk = app.addDisk({ name: 'd', source: '/dev/null', size: SIZE, mode: 'scan', blockSize: 65536, identity: {} });
    const first = app.beginBatch(disk);
    writeWhole(first);
    const a = await first.commit();

    const segmentsBefore = segmentCount(dir);
    if (how === 'aborted') {
      const lost = app.beginBatch(disk);
      writeWhole(lost);
      await lost.drained(); // handed to the encoders
      lost.abort();
      // Its records still land after the abort (they were in flight).
      for (let waited = 0; segmentCount(dir) < segmentsBefore + LOST_SEGMENTS && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    } else if (how === 'failed (drive full)') {
      // Room for a few sealed segments of the batch, then ENOSPC: the writer cuts the open
      // segment back to its last durable record and fails the batch.
      const fs = statfsSync(smallDrive);
      const filler = join(smallDrive, 'filler');
      writeFileSync(filler, Buffer.alloc(fs.bavail * fs.bsize - (LOST_SEGMENTS + 1.5) * MiB));
      const lost = app.beginBatch(disk);
      writeWhole(lost);
      await expect(lost.commit()).rejects.toMatchObject({ code: 'no-space' });
      rmSync(filler);
    } else {
      app.close();
      await crashMidBatch(dir);
      app = await Appliance.open(dir, { writable: true, segmentTargetSize: MiB });
    }
    // The lost batch filled sealed segments of its own (else the test shows nothing).
    expect(segmentCount(dir) - segmentsBefore).toBeGreaterThanOrEqual(LOST_SEGMENTS);
    try {
      const last = app.beginBatch(disk);
      last.write(5 * MiB + 123, Buffer.from('the last point'));
      const b = await last.commit();
      expect(app.index.lostSegments([disk.id]).size, 'the lost batch is filed').toBeGreaterThan(0);
      const atA = imageHash(app, disk, a.seq);
      const atB = imageHash(app, disk, b.seq);
      expect(atB).not.toBe(atA);

      // Point a goes: b becomes a merged point whose range starts at a's first write.
      const plan = planThinning(app, Date.now() * 1000, () => new Set([b.seq]));
      expect(plan.removedPoints).toBe(1);
      await executeThinning(app, plan);
      expect(app.timeline.points(disk).map((p) => p.seq)).toEqual([b.seq]);
      expect(imageHash(app, disk, b.seq), 'the point after thinning').toBe(atB);
      expect(app.index.lostSegments([disk.id]).size, 'the lost records went with the rewrite').toBe(0);
      expect(checkAppliance(app, { readData: true }).problems).toEqual([]);
      app.close();

      // The segments say the same without the index.
      await Appliance.rebuildIndex(dir);
      const ro = await Appliance.open(dir);
      try {
        expect(imageHash(ro, ro.disk('d'), b.seq), 'after rebuild-index').toBe(atB);
      } finally {
        ro.close();
      }
    } finally {
      app.close();
    }
  });
});
