import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statfsSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { checkAppliance } from '../../electron/engine/check.js';
import { CATALOG_FILE, FILE_HEADER_SIZE, INDEX_FILE, RecordType } from '../../electron/engine/format/constants.js';
import { scanSegment, segmentPath } from '../../electron/engine/store/segment-file.js';
import { readHeader } from '../../electron/engine/format/appliance-header.js';
import { IndexDb } from '../../electron/engine/index/index-db.js';
import { ensureSpace } from '../../electron/engine/retention/space-guard.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';
import { imageHash, sha256 } from '../helpers/history.js';
import { fillDrive, mountTmpfs, unmount } from '../devices/loop-device.js';

/**
 * An appliance whose drive has not one byte free must still open: readers to browse and
 * restore, and the writer to thin, prune or unprotect and so make room. Nothing can be
 * created there — not the lock holder's name (writer.json), not the index's WAL and shared
 * memory files — so the opener goes on without them: the lock held unnamed, the index
 * caught up in memory. Found when a split test filled its drive to the last byte.
 */

const KiB = 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-full-open-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('opening an appliance on a drive with no byte free', () => {
  const at = join(root, 'full');
  afterAll(() => unmount(at));

  it('opens readers and the writer, every point reads back, and the writer commits once there is room', async () => {
    mountTmpfs(at, '8m');
    const dir = join(at, 'app');
    await Appliance.init(dir);
    const points: Array<{ seq: number; hash: string }> = [];
    let app = await Appliance.open(dir, { writable: true });
    const d = app.addDisk({ name: 'd', size: 2 * 1024 * KiB, source: '/dev/null', mode: 'scan', blockSize: 65536, identity: {} });
    const shadow = Buffer.alloc(d.size);
    const commit = async (i: number) => {
      const b = app.beginBatch(app.disk('d'));
      const data = randomBytes(128 * KiB);
      b.write(i * 192 * KiB, data);
      data.copy(shadow, i * 192 * KiB);
      points.push({ seq: (await b.commit()).seq, hash: sha256(shadow) });
    };
    for (let i = 0; i < 4; i++) await commit(i);
    app.close();
    // The index file as it was then, put back after two more commits: an index that lags
    // the segments, as a writer stopped by a full drive leaves it. An opener must replay
    // those two commits, and has nowhere to write them.
    const index = join(dir, INDEX_FILE);
    const lagging = readFileSync(index);
    app = await Appliance.open(dir, { writable: true });
    for (let i = 4; i < 6; i++) await commit(i);
    app.close();
    writeFileSync(index, lagging);
    expect(existsSync(`${index}-wal`)).toBe(false);

    const filler = fillDrive(at);
    const free = statfsSync(at);
    expect(free.bavail).toBe(0);

    // A reader, with no writer around: it would bring the index file up to date, and cannot.
    const reader = await Appliance.open(dir);
    try {
      for (const p of points) expect(imageHash(reader, reader.disk('d'), p.seq)).toBe(p.hash);
    } finally {
      reader.close();
    }

    // The writer.
    app = await Appliance.open(dir, { writable: true });
    try {
      for (const p of points) expect(imageHash(app, app.disk('d'), p.seq)).toBe(p.hash);
      // A second writer is refused, though the first could not write its name down.
      await expect(Appliance.open(dir, { writable: true })).rejects.toMatchObject({ code: 'locked' });
      // A reader beside the writer reads the points the index file holds.
      const beside = await Appliance.open(dir);
      try {
        expect(imageHash(beside, beside.disk('d'), points[0]!.seq)).toBe(points[0]!.hash);
      } finally {
        beside.close();
      }
      // Commits fail with no-space and harm nothing...
      const full = app.beginBatch(app.disk('d'));
      full.write(0, randomBytes(64 * KiB));
      await expect(full.commit()).rejects.toMatchObject({ code: 'no-space' });
      // ...and go through once there is room.
      rmSync(filler);
      const b = app.beginBatch(app.disk('d'));
      const data = randomBytes(64 * KiB);
      b.write(0, data);
      data.copy(shadow, 0);
      const next = await b.commit();
      expect(imageHash(app, app.disk('d'), next.seq)).toBe(sha256(shadow));
      expect(checkAppliance(app, { readData: true }).problems).toEqual([]);
      for (const p of points) expect(imageHash(app, app.disk('d'), p.seq)).toBe(p.hash);

      // With room again the space guard puts the writer back on its index file: a reader
      // beside it sees the point made meanwhile, and the writer goes on there.
      expect(app.index.inMemory).toBe(true);
      expect((await ensureSpace(app)).state).toBe('ok');
      expect(app.index.inMemory).toBe(false);
      const fresh = await Appliance.open(dir);
      try {
        expect(imageHash(fresh, fresh.disk('d'), next.seq)).toBe(sha256(shadow));
      } finally {
        fresh.close();
      }
      const more = app.beginBatch(app.disk('d'));
      const tail = randomBytes(64 * KiB);
      more.write(64 * KiB, tail);
      tail.copy(shadow, 64 * KiB);
      points.push({ seq: (await more.commit()).seq, hash: sha256(shadow) });
      for (const p of points) expect(imageHash(app, app.disk('d'), p.seq)).toBe(p.hash);
    } finally {
      app.close();
    }
    // The next opener finds the index file current again, and everything in it.
    app = await Appliance.open(dir, { writable: true });
    try {
      for (const p of points) expect(imageHash(app, app.disk('d'), p.seq)).toBe(p.hash);
      expect(checkAppliance(app, { readData: true }).problems).toEqual([]);
    } finally {
      app.close();
    }
  });

  it.each([{ thinFirst: false }, { thinFirst: true }])('opens the writer when its open segment ends in damage, and seals that segment once there is room (a thinning first: $thinFirst)', async ({ thinFirst }) => {
    const at = join(root, `damaged-tail-${thinFirst}`);
    mountTmpfs(at, '8m');
    try {
      const dir = join(at, 'app');
      await Appliance.init(dir);
      let app = await Appliance.open(dir, { writable: true });
      const d = app.addDisk({ name: 'd', size: 1024 * KiB, source: '/dev/null', mode: 'scan', blockSize: 65536, identity: {} });
      const shadow = Buffer.alloc(d.size);
      const commit = async (offset: number) => {
        const b = app.beginBatch(app.disk('d'));
        const data = randomBytes(64 * KiB);
        b.write(offset, data);
        data.copy(shadow, offset);
        return { seq: (await b.commit()).seq, hash: sha256(shadow) };
      };
      const first = await commit(512 * KiB);
      const before = await commit(0);
      const openId = app.catalog.state.nextSegmentId() - 1;
      // Bookmarks fill the catalog's last page to within 4 bytes: the seal record then
      // needs a page the full drive cannot give (a record that fits in a page already
      // allocated is written even on a full drive).
      const catalogPath = join(dir, CATALOG_FILE);
      const pageLeft = () => 4096 - (statSync(catalogPath).size % 4096);
      const point = app.timeline.latest(app.disk('d'))!;
      let pads = 0;
      const pad = (extra: number) => app.addBookmark(app.disk('d'), point, `pad ${String(pads++).padStart(3, '0')} ${'x'.repeat(extra)}`);
      while (pageLeft() > 400) pad(150);
      const leftBefore = pageLeft();
      pad(0);
      const record = leftBefore - pageLeft(); // a pad record with no x
      const lastExtra = (pageLeft() - 4 - record + 4096) % 4096;
      if (lastExtra > 150) pad(150);
      pad((pageLeft() - 4 - record + 4096) % 4096);
      expect(pageLeft()).toBe(4);
      app.close();
      // A copy of the segment's last commit record with one header byte changed, appended:
      // a whole record that does not verify, which no crash leaves (damage, not a torn tail).
      const seg = segmentPath(dir, openId);
      const fd = openSync(seg, 'r+');
      let last: { offset: number; length: number } | undefined;
      for (const r of scanSegment(fd, FILE_HEADER_SIZE, { verifyPayloads: true }, () => undefined)) if (r.header.type === RecordType.Commit) last = { offset: r.offset, length: r.headerBytes.length + r.header.storedLength };
      const copy = Buffer.alloc(last!.length);
      readSync(fd, copy, 0, copy.length, last!.offset);
      copy[24] ^= 0xff; // the record's time
      writeSync(fd, copy, 0, copy.length, fstatSync(fd).size);
      closeSync(fd);
      const damagedAt = statSync(seg).size - copy.length;

      const filler = fillDrive(at);
      expect(statfsSync(at).bavail).toBe(0);
      // The writer opens, reports the damage, and appends nothing after it.
      app = await Appliance.open(dir, { writable: true });
      expect(app.problems).toEqual([expect.objectContaining({ segment: openId, at: damagedAt })]);
      expect(imageHash(app, app.disk('d'), before.seq)).toBe(before.hash);
      // A write fails (no room for a new segment, or for the seal before it) and leaves no trace.
      const segments = readdirSync(join(dir, 'segments'));
      const attempt = async () => {
        const b = app.beginBatch(app.disk('d'));
        b.write(0, randomBytes(64 * KiB));
        return b.commit();
      };
      await expect(attempt()).rejects.toMatchObject({ code: 'no-space' });
      expect(readdirSync(join(dir, 'segments'))).toEqual(segments);
      expect(statSync(seg).size).toBe(damagedAt + copy.length);
      rmSync(filler);
      if (thinFirst) {
        // A thinning (the space guard's, say) before the writer's next segment: its
        // manifest retires the damaged segment, and the waiting seal must not revive it.
        await executeThinning(app, planThinning(app, undefined, () => new Set([before.seq])));
        const after = await commit(128 * KiB);
        expect(app.catalog.state.segments.get(openId)?.state).toBe('retired');
        expect(existsSync(seg)).toBe(false);
        expect(app.timeline.points(app.disk('d')).map((p) => p.seq)).toEqual([before.seq, after.seq]);
        expect(imageHash(app, app.disk('d'), before.seq)).toBe(before.hash);
        expect(imageHash(app, app.disk('d'), after.seq)).toBe(after.hash);
        expect(checkAppliance(app, { readData: true }).problems).toEqual([]);
        app.close();
        app = await Appliance.open(dir, { writable: true });
        try {
          expect(app.problems).toEqual([]);
          expect(app.catalog.state.segments.get(openId)?.state).toBe('retired');
          expect(imageHash(app, app.disk('d'), after.seq)).toBe(after.hash);
        } finally {
          app.close();
        }
        return;
      }
      expect(imageHash(app, app.disk('d'), first.seq)).toBe(first.hash);
      // With room, the next commit goes to a new segment, after the damaged one's seal.
      const after = await commit(128 * KiB);
      expect(imageHash(app, app.disk('d'), after.seq)).toBe(after.hash);
      expect(app.catalog.state.segments.get(openId)).toMatchObject({ state: 'sealed', size: damagedAt });
      expect(app.catalog.state.nextSegmentId() - 1).toBeGreaterThan(openId);
      app.close();
      expect(statSync(seg).size).toBe(damagedAt + copy.length);
      // The next opener still reports the damage (its index file lagged: the writer ran on
      // a copy in memory) but finds the segment sealed: it appends elsewhere.
      app = await Appliance.open(dir, { writable: true });
      try {
        expect(app.problems).toEqual([expect.objectContaining({ segment: openId, at: damagedAt })]);
        const last = await commit(256 * KiB);
        for (const p of [before, after, last]) expect(imageHash(app, app.disk('d'), p.seq)).toBe(p.hash);
        expect(statSync(seg).size).toBe(damagedAt + copy.length);
      } finally {
        app.close();
      }
    } finally {
      unmount(at);
    }
  });

  it('copies the index file into memory only when its WAL is empty: with frames in it the file may be half a checkpoint', async () => {
    const dir = join(root, 'wal');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true });
    try {
      const d = app.addDisk({ name: 'd', size: 1024 * KiB, source: '/dev/null', mode: 'scan', blockSize: 65536, identity: {} });
      const b = app.beginBatch(d);
      b.write(0, randomBytes(64 * KiB));
      await b.commit();
      expect(statfsSync(dir).bavail).toBeGreaterThan(0);
      expect(readFileSync(join(dir, `${INDEX_FILE}-wal`)).length).toBeGreaterThan(0);
      expect(IndexDb.fileImage(dir, app.header.id)).toBeUndefined();
    } finally {
      app.close();
    }
    expect(existsSync(join(dir, `${INDEX_FILE}-wal`))).toBe(false);
    const image = IndexDb.fileImage(dir, readHeader(dir).id);
    expect(image?.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    // Another appliance's index is no copy of this one's.
    expect(IndexDb.fileImage(dir, '00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });
});
