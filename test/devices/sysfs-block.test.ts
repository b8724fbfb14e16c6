import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blockStats, decodeDev, kernelDevNumber, parentDiskOf, wholeDisksOf } from '../../electron/engine/devices/sysfs-block.js';
import { attachLoop, makeImage, makePartitionedImage, tempDir } from './loop-device.js';

const MiB = 1024 * 1024;

describe('sysfs facts', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('decodes dev_t as glibc does, and encodes the tracing filter number', () => {
    expect(decodeDev(0x0700n)).toEqual({ major: 7, minor: 0 });
    expect(decodeDev(0x10301n)).toEqual({ major: 259, minor: 1 });
    // Large minors spill into the high bits.
    expect(decodeDev((0x12000n << 32n) | (0x345n << 8n) | 0x67n | (0xabc00n << 12n))).toEqual({ major: 0x12345, minor: 0xabc67 });
    expect(kernelDevNumber({ major: 7, minor: 0 })).toBe(7340032);
    expect(kernelDevNumber({ major: 259, minor: 3 })).toBe((259 << 20) | 3);
  });

  it('counts the bytes written to a device, as restore will', () => {
    const loop = attachLoop(makeImage(join(tmp.dir, 'stat.img'), 16 * MiB));
    try {
      const name = loop.device.slice(5);
      const before = blockStats(name)!;
      const r = spawnSync('dd', ['if=/dev/zero', `of=${loop.device}`, 'bs=64k', 'count=3', 'oflag=direct', 'conv=notrunc']);
      expect(r.status).toBe(0);
      const after = blockStats(name)!;
      expect(after.writeBytes - before.writeBytes).toBe(3 * 65536);
      expect(after.writes - before.writes).toBeGreaterThanOrEqual(1);
      spawnSync('blkdiscard', ['-o', '0', '-l', '1048576', loop.device]);
      expect(blockStats(name)!.discardBytes - after.discardBytes).toBe(1048576);
    } finally {
      loop.detach();
    }
  });

  it('finds the whole disk of a partition', () => {
    const loop = attachLoop(makePartitionedImage(join(tmp.dir, 'p.img'), 16 * MiB, [[2048, 8192]]), { partitions: 1 });
    try {
      const part = loop.partitions[0].slice(5);
      expect(parentDiskOf(part)).toBe(loop.device.slice(5));
      expect(parentDiskOf(loop.device.slice(5))).toBeUndefined();
      expect(wholeDisksOf(part)).toEqual([loop.device.slice(5)]);
    } finally {
      loop.detach();
    }
  });
});
