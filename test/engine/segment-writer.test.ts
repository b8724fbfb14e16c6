import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordType } from '../../electron/engine/format/constants.js';
import { PayloadCodec } from '../../electron/engine/format/payload-codec.js';
import { SegmentWriter } from '../../electron/engine/store/segment-writer.js';
import { segmentPath } from '../../electron/engine/store/segment-file.js';
import { mountTmpfs, unmount } from '../devices/loop-device.js';

/**
 * The segment writer on a device that fills up, in both flush modes: the sync that hits
 * the full device fails with no-space and cuts the segment back to its last durable
 * record, and the next sync on the same writer works. (A sync whose first flush failed
 * before it ever awaited used to leave the writer marked "syncing" forever: every later
 * commit hung.)
 */

const KiB = 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-segwriter-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.each([{ asyncFlush: false }, { asyncFlush: true }])('a segment writer on a full device (asyncFlush: $asyncFlush)', ({ asyncFlush }) => {
  const mnt = join(root, `fs-${asyncFlush}`);
  afterAll(() => {
    unmount(mnt);
  });

  it('fails the sync that does not fit, keeps what was durable, and syncs again afterwards', async () => {
    mountTmpfs(mnt, '4m');
    const writer = new SegmentWriter(mnt, randomBytes(16), new PayloadCodec(undefined), { opened: () => {}, sealed: () => {} });
    writer.resume(undefined, 1);
    writer.asyncFlush = asyncFlush;
    let seq = 1;
    const write = (bytes: number) =>
      writer.append({ type: RecordType.Write, diskId: 1, seq: seq++, timeUs: Date.now() * 1000, a: 0, b: bytes, c: 0 }, randomBytes(bytes), true);

    for (let i = 0; i < 8; i++) write(64 * KiB);
    await writer.sync();
    const durableSize = statSync(segmentPath(mnt, 1)).size;
    expect(durableSize).toBeGreaterThan(512 * KiB);

    // 3.75 MiB more stays pending (below the 4 MiB flush), so the flush at sync() is the
    // write that finds no space.
    for (let i = 0; i < 60; i++) write(64 * KiB);
    const error = await writer.sync().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { code?: string } | undefined)?.code).toBe('no-space');
    await writer.settled().catch(() => {});
    expect(statSync(segmentPath(mnt, 1)).size).toBe(durableSize);

    // The space the failed records took is free again: a small record syncs.
    const at = write(4 * KiB);
    expect(at.offset).toBe(durableSize);
    await expect(Promise.race([writer.sync().then(() => 'synced'), new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000))])).resolves.toBe('synced');
    expect(statSync(segmentPath(mnt, 1)).size).toBe(at.end);
    writer.close();
  });
});
