import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { IndexDb } from '../../electron/engine/index/index-db.js';
import { parsePointSpec } from '../../shared/point.js';
import { imageHash, randomHistory } from '../helpers/history.js';

const MiB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-history-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const disk = { source: '/dev/null', size: 256 * MiB, mode: 'scan' as const, blockSize: 65536, identity: {} };

describe.each([
  { name: 'plain', passphrase: undefined },
  { name: 'encrypted', passphrase: 'correct horse battery' },
])('a random history of 10,000 writes on a $name appliance', ({ name, passphrase }) => {
  const dir = join(root, name);

  it('reads back every kept point exactly, before and after rebuilding the index', async () => {
    await Appliance.init(dir, { passphrase });
    // Small segments, so the history spans many of them and rotation is exercised.
    let app = await Appliance.open(dir, { writable: true, passphrase, segmentTargetSize: 16 * MiB });
    const d = app.addDisk({ name: 'disk0', ...disk });
    const other = app.addDisk({ name: 'disk1', ...disk, size: 16 * MiB });
    const kept = await randomHistory(app, d, { seed: 7, writes: 10_000, maxLength: 40_000, keepEvery: 30 });
    // A second disk shares the appliance: its writes must never leak into disk0.
    const b = app.beginBatch(other);
    b.write(0, Buffer.alloc(MiB, 0xee));
    await b.commit();
    expect(kept.length).toBeGreaterThanOrEqual(5);
    app.addBookmark(d, app.timeline.pointAt(d, kept[2]!.seq)!, 'third kept point');
    for (const k of kept) expect(imageHash(app, d, k.seq), `point ${k.seq}`).toBe(k.hash);
    app.close();

    // Delete the index: segments and catalog alone must give the same answers.
    IndexDb.remove(dir);
    app = await Appliance.open(dir, { passphrase });
    const d2 = app.disk('disk0');
    expect(app.timeline.resolve(d2, parsePointSpec('@third kept point')).seq).toBe(kept[2]!.seq);
    for (const k of kept) expect(imageHash(app, d2, k.seq), `point ${k.seq} after rebuild`).toBe(k.hash);
    expect(app.disks().map((x) => x.name)).toEqual(['disk0', 'disk1']);
    app.close();
  });
});
