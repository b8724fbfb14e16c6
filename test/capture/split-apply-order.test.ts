import { describe, expect, it } from 'vitest';
import { SplitApplyOrder } from '../../electron/engine/capture/split-apply-order.js';

/** Hands commit `seq` over with a source write that succeeds, and waits until it has landed. */
async function applied(order: SplitApplyOrder, seq: number, start: number, end: number): Promise<void> {
  await order.run(seq, start, end, async () => undefined);
  await order.settled();
}

/**
 * The applied marker of split capture (how far the source is known to hold what the
 * appliance does) must never pass a write the source did not get: a restart re-applies
 * only what lies above it. Found when a drive filled between a commit's fdatasync and its
 * index update: the client got an error, the record was durable, the marker went past it.
 * Commits are known by seq from the moment they are given out, so the order in which they
 * end does not matter.
 */
describe('the order split writes reach the source', () => {
  it('keeps the marker below a failed source write and below a failed commit', async () => {
    const order = new SplitApplyOrder(10);
    await applied(order, 11, 0, 4096);
    expect(order.appliedThrough()).toBe(11);

    // A commit that failed after its seq (12) was handed out: the writes after it land.
    order.committing(12, 12);
    order.commitFailed(12);
    await applied(order, 13, 4096, 8192);
    await applied(order, 14, 0, 4096);
    expect(order.appliedThrough()).toBe(11);

    // A source write that failed holds the marker below it too.
    const again = new SplitApplyOrder(20);
    await again.run(21, 0, 4096, () => Promise.reject(new Error('EIO'))).catch(() => undefined);
    await applied(again, 22, 4096, 8192);
    expect(again.appliedThrough()).toBe(20);
  });

  it('stays below a commit still pending or failed, whatever order commits end in', async () => {
    const order = new SplitApplyOrder(5);
    order.committing(10, 10);
    order.committing(16, 16);
    // 16 is acknowledged and applied while 10 is still committing: 10's write is not on the source.
    await applied(order, 16, 0, 4096);
    expect(order.appliedThrough()).toBe(9);
    // 10 then fails (its record may be durable): the marker stays below it for good.
    order.commitFailed(10);
    order.committing(22, 22);
    await applied(order, 22, 4096, 8192);
    expect(order.appliedThrough()).toBe(9);
    // With nothing pending or failed, everything handed over counts.
    const clean = new SplitApplyOrder(5);
    clean.committing(10, 10);
    expect(clean.appliedThrough()).toBe(5);
    await applied(clean, 10, 0, 4096);
    expect(clean.appliedThrough()).toBe(10);
  });

  it('stays below the first write of a failed or pending batch, not only below its commit', async () => {
    // Split's batches: four 64 KiB write records (seqs 12-15), then the commit (16). The
    // marker is a write seq: a restart re-applies the writes above it. Found when a drive
    // filled: commit 16 failed, its record was durable, the marker said 15, and the
    // restart skipped writes 12-15 (the source kept zeroes where the appliance had data).
    const order = new SplitApplyOrder(11);
    order.committing(16, 12);
    expect(order.appliedThrough()).toBe(11);
    order.commitFailed(16);
    order.committing(21, 17);
    await order.run(21, 0, 4096, async () => undefined);
    await order.settled();
    expect(order.appliedThrough()).toBe(11);
    // A batch in flight to the source counts from its first write too.
    const inFlight = new SplitApplyOrder(11);
    let release!: () => void;
    inFlight.committing(16, 12);
    const writing = inFlight.run(16, 0, 4096, () => new Promise<void>((r) => (release = r)));
    expect(inFlight.appliedThrough()).toBe(11);
    release();
    await writing;
    await inFlight.settled();
    expect(inFlight.appliedThrough()).toBe(16);
  });

  it('waits for an earlier overlapping write, and counts one in flight as not yet applied', async () => {
    const order = new SplitApplyOrder(0);
    const seen: number[] = [];
    let release!: () => void;
    const first = order.run(1, 0, 8192, () => new Promise<void>((r) => (release = r)).then(() => void seen.push(1)));
    const second = order.run(2, 4096, 12288, async () => void seen.push(2));
    const apart = order.run(3, 65536, 69632, async () => void seen.push(3));
    await apart;
    expect(seen).toEqual([3]);
    expect(order.appliedThrough()).toBe(0);
    release();
    await Promise.all([first, second]);
    await order.settled();
    expect(seen).toEqual([3, 1, 2]);
    expect(order.appliedThrough()).toBe(3);
  });
});
