import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RestoreJournal } from '../../electron/engine/restore/restore-journal.js';
import { mergeExtents } from '../../electron/engine/restore/rollback.js';
import { chunksOf } from '../../electron/engine/restore/extent-stream.js';
import { tempDir } from '../devices/loop-device.js';

describe('restore journal', () => {
  const tmp = tempDir('chronodisk-journal-');
  afterAll(() => tmp.remove());

  it('keeps a job with its extents until removed, advances its watermark, and lists it by target', () => {
    const j = new RestoreJournal(tmp.dir);
    expect(j.list()).toEqual([]);
    const extents = [
      { offset: 0, length: 4096 },
      { offset: 2 ** 40, length: 65536 }, // beyond 32 bits
    ];
    const job = j.create({ kind: 'rollback', disk: 'vol', diskId: 1, seq: 10, target: '/dev/loop9', upToDateSeq: 20, total: 69632 }, extents);
    j.advance(job, 4096);
    const again = new RestoreJournal(tmp.dir).forTarget('/dev/loop9')!;
    expect(again).toMatchObject({ id: job.id, kind: 'rollback', seq: 10, upToDateSeq: 20, watermark: 4096, total: 69632 });
    expect(j.extentsOf(again)).toEqual(extents);
    expect(j.forTarget('/dev/loop8')).toBeUndefined();
    // No temporary files are left behind by the atomic writes.
    expect(readdirSync(join(tmp.dir, 'jobs')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    j.remove(again);
    expect(j.list()).toEqual([]);
    expect(readdirSync(join(tmp.dir, 'jobs'))).toEqual([]);
  });

  it('never trusts a damaged extent list, and reports an unreadable journal instead of listing it', () => {
    const j = new RestoreJournal(tmp.dir);
    const job = j.create({ kind: 'rollback', disk: 'vol', diskId: 1, seq: 1, target: '/dev/x', upToDateSeq: 2, total: 10 }, [{ offset: 0, length: 10 }]);
    writeFileSync(join(tmp.dir, 'jobs', `${job.id}.extents`), Buffer.alloc(16, 1));
    expect(() => j.extentsOf(job)).toThrow(/damaged/);
    j.remove(job);
    writeFileSync(join(tmp.dir, 'jobs', 'junk.json'), '{"half');
    expect(j.list()).toEqual([]);
    expect(j.damaged()).toEqual([join(tmp.dir, 'jobs', 'junk.json')]);
  });
});

describe('extent plans', () => {
  it('merges overlapping and touching extents of two lists', () => {
    expect(
      mergeExtents(
        [
          { offset: 0, length: 10 },
          { offset: 100, length: 10 },
        ],
        [
          { offset: 5, length: 10 },
          { offset: 110, length: 5 },
          { offset: 50, length: 1 },
        ],
      ),
    ).toEqual([
      { offset: 0, length: 15 },
      { offset: 50, length: 1 },
      { offset: 100, length: 15 },
    ]);
  });

  it('splits extents into chunks with their position in the plan', () => {
    const chunks = [...chunksOf([{ offset: 1000, length: 25 }, { offset: 5000, length: 10 }], 10)];
    expect(chunks).toEqual([
      { offset: 1000, length: 10, plan: 0 },
      { offset: 1010, length: 10, plan: 10 },
      { offset: 1020, length: 5, plan: 20 },
      { offset: 5000, length: 10, plan: 25 },
    ]);
  });
});
