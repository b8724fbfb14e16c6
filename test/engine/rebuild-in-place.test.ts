import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';
import { ChronodiskError } from '../../electron/engine/errors.js';
import { parsePointSpec } from '../../shared/point.js';
import { applianceHash } from '../helpers/appliance-hash.js';
import { BREAK_EXTENTS_SQL } from '../helpers/broken-index.js';
import { imageHash, imageHashOf, prng, randomHistory, sha256, writeRandom } from '../helpers/history.js';

/**
 * The index rebuilt inside a running writer (what the service's "Rebuild the index" does):
 * an index that disagrees with the segments makes reads fail with remedy 'rebuild-index',
 * never wrong bytes; after the rebuild every kept point reads back as its shadow copy, in the
 * writer and in a reader open beside it, the bookmarks resolve, capture goes on, and not a
 * byte of the segments or catalog changed.
 */

const MiB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-rebuild-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('rebuilding the index inside the running writer', () => {
  it('repairs an index that disagrees with the segments, beside a reader, without touching the truth', async () => {
    const dir = join(root, 'app');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true, segmentTargetSize: 4 * MiB });
    try {
      const d = app.addDisk({ name: 'disk0', source: '/dev/null', size: 16 * MiB, mode: 'scan', blockSize: 65536, identity: {} });
      const kept = await randomHistory(app, d, { seed: 11, writes: 1500, maxLength: 30_000, keepEvery: 10 });
      expect(kept.length).toBeGreaterThanOrEqual(5);
      // Thinned once, as most appliances are: the index generation is then a number that a
      // rebuild keeps (so nothing but the failed read itself tells a reader to look again).
      const keptSeqs = new Set(kept.map((k) => k.seq));
      const gone = app.timeline.points(d).find((p) => !keptSeqs.has(p.seq))!.seq;
      await executeThinning(app, planThinning(app, Date.now() * 1000, () => new Set(app.timeline.points(d).map((p) => p.seq).filter((s) => s !== gone))));
      expect(app.index.meta('generation')).toBe(1);
      app.addBookmark(d, app.timeline.pointAt(d, kept[1]!.seq)!, 'second kept point');
      const points = app.timeline.points(d);
      const truth = applianceHash(dir);
      const reader = await Appliance.open(dir);
      try {
        // Break the index as a bug or a bad disk block might: every extent points past its record's bytes.
        app.index.db.exec(BREAK_EXTENTS_SQL);
        const last = kept[kept.length - 1]!;
        // An image held across the rebuild, as a serving connection holds one.
        const held = app.image(d, last.seq);
        let failure: unknown;
        try {
          imageHashOf(held);
        } catch (e) {
          failure = e;
        }
        expect(failure, 'a read through the broken index').toBeInstanceOf(ChronodiskError);
        expect((failure as ChronodiskError).code).toBe('damaged');
        expect((failure as ChronodiskError).message).toMatch(/^the index does not match segment \d+ at byte \d+/);
        expect((failure as ChronodiskError).remedy).toBe('rebuild-index');

        const r = await app.rebuildIndexInPlace();
        expect(r.problems).toEqual([]);
        expect(r.commits).toBe(points.length);
        for (const k of kept) expect(imageHash(app, d, k.seq), `point ${k.seq} in the writer`).toBe(k.hash);
        expect(imageHashOf(held), 'the image held across the rebuild').toBe(last.hash);
        reader.refresh();
        const rd = reader.disk('disk0');
        for (const k of kept) expect(imageHash(reader, rd, k.seq), `point ${k.seq} in the reader`).toBe(k.hash);
        expect(app.timeline.points(d)).toEqual(points);
        expect(app.timeline.resolve(d, parsePointSpec('@second kept point')).seq).toBe(kept[1]!.seq);
        expect(applianceHash(dir), 'segments and catalog').toBe(truth);

        // Capture goes on after it, into the same open segment.
        const b = app.beginBatch(d);
        b.write(0, Buffer.alloc(MiB, 0x5a));
        const p = await b.commit();
        const img = app.image(d, p.seq).readSync(0, MiB);
        expect(img.equals(Buffer.alloc(MiB, 0x5a))).toBe(true);
      } finally {
        reader.close();
      }
    } finally {
      app.close();
    }
  });

  it('rebuilds an index file that is no database at the next open that may write it; beside a writer, a reader names the remedy', async () => {
    const dir = join(root, 'garbled');
    await Appliance.init(dir);
    let app = await Appliance.open(dir, { writable: true });
    const d = app.addDisk({ name: 'disk0', source: '/dev/null', size: 8 * MiB, mode: 'scan', blockSize: 65536, identity: {} });
    const kept = await randomHistory(app, d, { seed: 5, writes: 400, maxLength: 30_000, keepEvery: 5 });
    const points = app.timeline.points(d);
    app.close();
    const truth = applianceHash(dir);
    const garble = () => {
      const fd = openSync(join(dir, 'index.sqlite'), 'r+');
      writeSync(fd, Buffer.alloc(100, 'garbage '), 0, 100, 0);
      closeSync(fd);
    };
    const readsBack = (a: Appliance) => {
      const disk = a.disk('disk0');
      expect(a.timeline.points(disk)).toEqual(points);
      for (const k of kept) expect(imageHash(a, disk, k.seq), `point ${k.seq}`).toBe(k.hash);
    };

    // No writer: a reader takes the lock for its catch-up, and builds the index again.
    garble();
    const reader = await Appliance.open(dir);
    readsBack(reader);
    reader.close();

    // Beside a writer a reader cannot rebuild it: one clear error that names the remedy.
    app = await Appliance.open(dir, { writable: true });
    try {
      garble();
      const opened = await Appliance.open(dir).then(
        (a) => (a.close(), undefined),
        (e: unknown) => e,
      );
      expect(opened).toBeInstanceOf(ChronodiskError);
      expect(opened).toMatchObject({ code: 'damaged', remedy: 'rebuild-index', message: expect.stringMatching(/^the appliance's index is damaged \(file is not a database\)$/) });
    } finally {
      app.close();
    }
    // The next writer rebuilds it.
    app = await Appliance.open(dir, { writable: true });
    try {
      readsBack(app);
    } finally {
      app.close();
    }
    expect(applianceHash(dir), 'segments and catalog').toBe(truth);
  });

  it('waits for a capture batch in flight and refuses while one is open', async () => {
    const dir = join(root, 'busy');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true });
    try {
      const d = app.addDisk({ name: 'disk0', source: '/dev/null', size: 4 * MiB, mode: 'scan', blockSize: 65536, identity: {} });
      const open = app.beginBatch(d);
      open.write(0, Buffer.alloc(4096, 1));
      await expect(app.rebuildIndexInPlace()).rejects.toMatchObject({ code: 'busy' });
      const committing = open.commit();
      const r = await app.rebuildIndexInPlace();
      const p = await committing;
      expect(r.commits).toBe(1);
      expect(app.image(d, p.seq).readSync(0, 4096).equals(Buffer.alloc(4096, 1))).toBe(true);
    } finally {
      app.close();
    }
  });

  it('runs off the event loop on a long encrypted history, reports progress, and keeps labels; repairs a garbled file beside its writer', async () => {
    const dir = join(root, 'long');
    await Appliance.init(dir, { passphrase: 'rebuild in place' });
    const app = await Appliance.open(dir, { writable: true, passphrase: 'rebuild in place' });
    try {
      const d = app.addDisk({ name: 'disk0', source: '/dev/null', size: 64 * MiB, mode: 'scan', blockSize: 65536, identity: {} });
      // 40 commits of 1000 writes of 4 KiB (40,000 writes): a rebuild that takes a while.
      const shadow = Buffer.alloc(d.size);
      const rand = prng(23);
      const kept: Array<{ seq: number; hash: string }> = [];
      for (let c = 0; c < 40; c++) {
        const b = app.beginBatch(d);
        for (let w = 0; w < 1000; w++) writeRandom(b, shadow, rand, Math.floor(rand() * (d.size / 4096)) * 4096, 4096);
        const p = await b.commit(c % 10 === 0 ? { label: `label ${c}` } : {});
        if (c % 10 === 0 || c === 39) kept.push({ seq: p.seq, hash: sha256(shadow) });
      }
      const points = app.timeline.points(d);
      const counts = app.index.counts();
      expect(counts.commits).toBe(40);
      const truth = applianceHash(dir);

      // The event loop turns while the rebuild runs: a timer ticks between its progress reports.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 2);
      const reports: Array<{ step: string; done: number; total: number; ticks: number }> = [];
      const r = await app.rebuildIndexInPlace((step, done, total) => reports.push({ step, done, total, ticks })).finally(() => clearInterval(timer));
      expect(r.problems).toEqual([]);
      expect(r).toMatchObject(counts);
      expect(reports.at(-1)).toMatchObject({ step: 'apply', done: 40 * 1000 * 4096, total: 40 * 1000 * 4096 });
      expect(reports.some((x) => x.step === 'scan' && x.done === x.total && x.total > 0)).toBe(true);
      expect(reports.at(-1)!.ticks, JSON.stringify(reports)).toBeGreaterThan(reports[0]!.ticks);
      expect(app.timeline.points(d)).toEqual(points);
      expect(points.filter((p) => p.label).map((p) => p.label)).toEqual(['label 0', 'label 10', 'label 20', 'label 30']);
      for (const k of kept) expect(imageHash(app, d, k.seq), `point ${k.seq}`).toBe(k.hash);

      // A file SQLite cannot read any more, beside its writer: the remedy a reader names works in place.
      // (Checkpointed first, so that no copy of its first page waits in the WAL.)
      app.index.db.pragma('wal_checkpoint(TRUNCATE)');
      const fd = openSync(join(dir, 'index.sqlite'), 'r+');
      writeSync(fd, Buffer.alloc(100, 'garbage '), 0, 100, 0);
      closeSync(fd);
      const opened = await Appliance.open(dir, { passphrase: 'rebuild in place' }).then(
        (a) => (a.close(), undefined),
        (e: unknown) => e,
      );
      expect(opened).toMatchObject({ code: 'damaged', remedy: 'rebuild-index' });
      await app.rebuildIndexInPlace();
      for (const k of kept) expect(imageHash(app, d, k.seq), `point ${k.seq} after the garbled file`).toBe(k.hash);
      const reader = await Appliance.open(dir, { passphrase: 'rebuild in place' });
      try {
        for (const k of kept) expect(imageHash(reader, reader.disk('disk0'), k.seq), `point ${k.seq} in a reader`).toBe(k.hash);
      } finally {
        reader.close();
      }
      expect(applianceHash(dir), 'segments and catalog').toBe(truth);
    } finally {
      app.close();
    }
    // What `chronodisk rebuild-index` does with no writer running reports the same steps.
    const steps: string[] = [];
    let last = { done: 0, total: -1 };
    const again = await Appliance.rebuildIndex(dir, {
      passphrase: 'rebuild in place',
      onProgress: (step, done, total) => {
        if (steps.at(-1) !== step) steps.push(step);
        last = { done, total };
      },
    });
    expect(again.problems).toEqual([]);
    expect(again.commits).toBe(40);
    expect(steps).toEqual(['scan', 'apply']);
    expect(last).toEqual({ done: 40 * 1000 * 4096, total: 40 * 1000 * 4096 });
  }, 120_000);
});
