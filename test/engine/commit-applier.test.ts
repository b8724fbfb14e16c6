/**
 * CommitApplier, the index-facing half of the commit path, on a real SQLite index (in
 * memory): durable commits reach the index in order and in one transaction, the replay
 * watermark never passes a write that is in no table yet, a batch that ended without a
 * commit gets its segments filed as lost, and a cut drops only what was not yet durable.
 * The whole path (segments, fdatasync, crashes) is exercised by crash, lost-batch and
 * split-space tests; this pins the contract of the one file.
 */
import { describe, expect, it } from 'vitest';
import { CommitApplier, type OpenBatch, type PlacedCommit } from '../../electron/engine/store/commit-applier.js';
import { IndexDb } from '../../electron/engine/index/index-db.js';

const APPLIANCE = '00000000-0000-4000-8000-000000000001';

function batch(diskId: number): OpenBatch {
  return { diskId, firstSeq: undefined, firstUnstaged: undefined, writes: [], bytes: 0 };
}

/** Places one write of `b` (seq, disk range, record at segment:offset). */
function place(applier: CommitApplier, b: OpenBatch, seq: number, start: number, end: number, segment: number, offset: number): void {
  b.firstSeq ??= seq;
  b.bytes += end - start;
  applier.placed(b, { seq, disk: b.diskId, start, end, segment, recOffset: offset }, { segment, offset });
}

/** The commit record of `b` at segment:offset (64 bytes long), queued. */
function commitOf(applier: CommitApplier, b: OpenBatch, seq: number, segment: number, offset: number): PlacedCommit {
  const entry: PlacedCommit = {
    row: { seq, disk: b.diskId, time_us: seq * 1000, flags: 0, label: null, batch_start: b.firstSeq ?? seq, bytes: b.bytes, segment, rec_offset: offset },
    batch: b,
    end: { segment, offset: offset + 64 },
  };
  applier.add(entry);
  return entry;
}

/** A batch of one write (seq, disk range, record at segment:offset) and its commit (seq + 1, at commitOffset), queued. */
function oneWriteBatch(applier: CommitApplier, disk: number, seq: number, start: number, end: number, segment: number, offset: number, commitOffset: number): { b: OpenBatch; c: PlacedCommit } {
  const b = batch(disk);
  place(applier, b, seq, start, end, segment, offset);
  return { b, c: commitOf(applier, b, seq + 1, segment, commitOffset) };
}

function setup(): { index: IndexDb; applier: CommitApplier; open: Set<OpenBatch>; last: { seq: number } } {
  const index = IndexDb.inMemory(undefined, APPLIANCE);
  const open = new Set<OpenBatch>();
  const last = { seq: 0 };
  return { index, applier: new CommitApplier(index, () => open, () => last.seq), open, last };
}

describe('CommitApplier', () => {
  it('applies the commits made durable in one turn together, in order, and moves the watermark past them', async () => {
    const { index, applier, last } = setup();
    const { c: ca } = oneWriteBatch(applier, 1, 1, 0, 4096, 1, 100, 4260);
    const { c: cb } = oneWriteBatch(applier, 2, 3, 8192, 12288, 1, 4324, 8488);
    last.seq = 4;
    expect(applier.pending).toBe(true);
    await Promise.all([applier.applyWhenDurable(ca), applier.applyWhenDurable(cb)]);
    expect(applier.pending).toBe(false);
    expect(index.hasCommit(2) && index.hasCommit(4)).toBe(true);
    expect(index.timeMap.lookup(1, 2, 0, 4096)).toEqual([{ start: 0, end: 4096, segment: 1, rec_offset: 100, data_off: 0 }]);
    expect(index.timeMap.lookup(2, 4, 8192, 12288)).toEqual([{ start: 8192, end: 12288, segment: 1, rec_offset: 4324, data_off: 0 }]);
    expect(index.watermark).toEqual({ segment: 1, offset: 8552 });
    expect(index.maxSeq).toBe(4);
  });

  it('keeps the watermark before the first write of a batch still open', async () => {
    const { index, applier, open, last } = setup();
    const still = batch(1);
    open.add(still);
    place(applier, still, 1, 0, 4096, 2, 500);
    const { c } = oneWriteBatch(applier, 2, 2, 0, 4096, 2, 4660, 8820);
    last.seq = 3;
    await applier.applyWhenDurable(c);
    // Replay from here must find the open batch's write again: it is in no table yet.
    expect(index.watermark).toEqual({ segment: 2, offset: 500 });
    open.delete(still);
    const c2 = commitOf(applier, still, 4, 2, 8884);
    last.seq = 4;
    await applier.applyWhenDurable(c2);
    expect(index.watermark).toEqual({ segment: 2, offset: 8948 });
  });

  it("stages a lost batch's rows with the next apply, and its disk's next commit files their segment as lost", async () => {
    const { index, applier, last } = setup();
    const lost = batch(7);
    place(applier, lost, 1, 0, 65536, 3, 100);
    applier.lose(lost);
    const { c } = oneWriteBatch(applier, 7, 3, 0, 4096, 5, 100, 4260);
    last.seq = 4;
    await applier.applyWhenDurable(c);
    expect([...index.lostSegments([7])]).toEqual([3]);
    expect(lost.writes).toEqual([]);
    // Never visible: the point shows only the committed batch.
    expect(index.timeMap.lookup(7, 4, 0, 131072)).toEqual([{ start: 0, end: 4096, segment: 5, rec_offset: 100, data_off: 0 }]);
    // A write of the lost batch still in flight lands after that apply: staged with the next.
    place(applier, lost, 2, 65536, 131072, 4, 100);
    const { c: c2 } = oneWriteBatch(applier, 7, 5, 0, 4096, 6, 100, 4260);
    last.seq = 6;
    await applier.applyWhenDurable(c2);
    expect([...index.lostSegments([7])].sort()).toEqual([3, 4]);
  });

  it('cuts off the commits not yet durable and keeps the durable ones first in line', async () => {
    const { index, applier, last } = setup();
    const { c: ca } = oneWriteBatch(applier, 1, 1, 0, 4096, 1, 100, 4260);
    const { b, c: cb } = oneWriteBatch(applier, 1, 3, 4096, 8192, 1, 4324, 8484);
    last.seq = 4;
    ca.durable = true; // its fdatasync returned; its apply had not run yet
    const failure = new Error('disk gone');
    expect(applier.cutOff(failure)).toEqual([b]);
    expect(cb.lost).toBe(failure);
    expect(ca.lost).toBeUndefined();
    await applier.applyWhenDurable(ca);
    expect(index.hasCommit(2)).toBe(true);
    expect(index.hasCommit(4)).toBe(false);
    expect(applier.pending).toBe(false);
  });

  it('keeps a commit not yet durable whose record the cut left in place, and applies it once durable', async () => {
    const { index, applier, last } = setup();
    // A's record lies below the cut (a running fdatasync covers it); B's lay past it.
    const { c: ca } = oneWriteBatch(applier, 1, 1, 0, 4096, 1, 100, 4260);
    const { b, c: cb } = oneWriteBatch(applier, 1, 3, 4096, 8192, 1, 4324, 8484);
    last.seq = 4;
    const failure = new Error('no space');
    const cutAt = { segment: 1, offset: 4324 };
    expect(applier.cutOff(failure, (end) => end.segment < cutAt.segment || (end.segment === cutAt.segment && end.offset <= cutAt.offset))).toEqual([b]);
    expect(ca.lost).toBeUndefined();
    expect(cb.lost).toBe(failure);
    expect(applier.pending).toBe(true);
    await applier.applyWhenDurable(ca);
    expect(index.hasCommit(2)).toBe(true);
    expect(index.hasCommit(4)).toBe(false);
    expect(applier.pending).toBe(false);
  });
});
