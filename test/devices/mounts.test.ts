import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deviceOfPath,
  type MountEntry,
  mountDevice,
  mountsOf,
  parseMountinfo,
  parseSwaps,
  readMounts,
  systemDisks,
} from '../../electron/engine/devices/mounts.js';
import { decodeDev } from '../../electron/engine/devices/sysfs-block.js';
import { attachLoop, type Loop, makePartitionedImage, sh, tempDir } from './loop-device.js';

const MiB = 1024 * 1024;

describe('parsers', () => {
  it('parses mountinfo with optional fields and octal escapes', () => {
    const text = [
      '26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
      '90 26 7:1 /sub /mnt/with\\040space rw master:2 shared:3 - xfs /dev/loop1 rw',
      '91 26 0:45 / /mnt/b rw - btrfs /dev/loop2 rw',
      'garbage',
    ].join('\n');
    expect(parseMountinfo(text)).toEqual([
      { id: 26, parentId: 1, dev: { major: 254, minor: 0 }, root: '/', mountPoint: '/', options: 'rw,relatime', fsType: 'ext4', source: '/dev/vda' },
      { id: 90, parentId: 26, dev: { major: 7, minor: 1 }, root: '/sub', mountPoint: '/mnt/with space', options: 'rw', fsType: 'xfs', source: '/dev/loop1' },
      { id: 91, parentId: 26, dev: { major: 0, minor: 45 }, root: '/', mountPoint: '/mnt/b', options: 'rw', fsType: 'btrfs', source: '/dev/loop2' },
    ]);
  });
  it('parses /proc/swaps', () => {
    const text = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sda3                               partition\t8388604\t\t0\t\t-2\n/swap\\040file file 1024 0 -3\n';
    expect(parseSwaps(text)).toEqual([
      { path: '/dev/sda3', type: 'partition' },
      { path: '/swap file', type: 'file' },
    ]);
  });
});

describe('on real loop devices', () => {
  const tmp = tempDir();
  const mnt = join(tmp.dir, 'mount point');
  let loop: Loop;
  beforeAll(() => {
    const image = makePartitionedImage(join(tmp.dir, 'disk.img'), 48 * MiB, [
      [2048, 20480],
      [22528, 40960],
    ]);
    loop = attachLoop(image, { partitions: 2 });
    sh('mkfs.ext4', ['-q', loop.partitions[1]]);
    mkdirSync(mnt);
    sh('mount', [loop.partitions[1], mnt]);
    writeFileSync(join(mnt, 'file'), 'hello');
  });
  afterAll(() => {
    try {
      execFileSync('umount', [mnt], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
    loop?.detach();
    tmp.remove();
  });

  it('mountsOf names the mount points of a disk and of its partitions', () => {
    const expected = [{ mountPoint: mnt, device: loop.partitions[1], fsType: 'ext4' }];
    expect(mountsOf(loop.device)).toEqual(expected);
    expect(mountsOf(loop.partitions[1])).toEqual(expected);
    expect(mountsOf(loop.partitions[0])).toEqual([]);
    expect(mountsOf(decodeDev(statSync(loop.device).rdev))).toEqual(expected);
  });

  it('mountsOf counts active swap on a partition', () => {
    const swaps = parseSwaps(`Filename Type Size Used Priority\n${loop.partitions[0]} partition 10236 0 -2\n`);
    expect(mountsOf(loop.device, { swaps })).toContainEqual({ mountPoint: '[SWAP]', device: loop.partitions[0], fsType: 'swap' });
  });

  it('mountDevice falls back to the source for an anonymous dev_t (btrfs)', () => {
    const m: MountEntry = { id: 1, parentId: 0, dev: { major: 0, minor: 99 }, root: '/', mountPoint: '/x', options: 'rw', fsType: 'btrfs', source: loop.partitions[0] };
    expect(mountDevice(m)).toEqual(decodeDev(statSync(loop.partitions[0]).rdev));
  });

  it('deviceOfPath finds the partition and whole disk holding a directory, and those under the loop image', () => {
    const under = deviceOfPath(tmp.dir); // where the image file lives
    expect(deviceOfPath(join(mnt, 'file'))).toEqual({
      device: loop.partitions[1],
      dev: decodeDev(statSync(loop.partitions[1]).rdev),
      disks: [loop.device, ...(under?.disks ?? [])],
      devices: [loop.partitions[1], ...(under?.devices ?? [])],
    });
    expect(deviceOfPath('/dev/shm')).toBeUndefined();
  });

  it('systemDisks finds the disks under /, /boot and swap from what is mounted', () => {
    // The real machine: the disk holding / is a system disk.
    const root = deviceOfPath('/');
    const real = systemDisks();
    if (root) expect(real.find((d) => d.disk === root.disks[0])?.holds).toContain('/');
    // A loop partition mounted at /boot and another used as swap make the loop disk one.
    const mounts = [...readMounts().filter((m) => m.mountPoint !== '/boot'), { ...readMounts().find((m) => m.mountPoint === mnt)!, mountPoint: '/boot' }];
    const swaps = parseSwaps(`Filename Type Size Used Priority\n${loop.partitions[0]} partition 10236 0 -2\n`);
    const found = systemDisks({ mounts, swaps }).find((d) => d.disk === loop.device);
    expect(found).toEqual({ disk: loop.device, dev: decodeDev(statSync(loop.device).rdev), holds: ['/boot', '[SWAP]'] });
    expect(systemDisks({ mounts: [], swaps: [] })).toEqual([]);
  });
});
