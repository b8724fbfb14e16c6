import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDrives } from '../../electron/engine/devices/drives.js';
import { deviceOfPath } from '../../electron/engine/devices/mounts.js';
import { attachLoop, type Loop, makeImage, makePartitionedImage, sh, tempDir } from './loop-device.js';

const MiB = 1024 * 1024;

describe('listDrives', () => {
  const tmp = tempDir();
  const mnt = join(tmp.dir, 'appliance-fs');
  let parted: Loop;
  let plain: Loop;
  let image: string;
  beforeAll(() => {
    image = makePartitionedImage(join(tmp.dir, 'parted.img'), 48 * MiB, [
      [2048, 20480],
      [22528, 40960],
    ]);
    parted = attachLoop(image, { partitions: 2 });
    plain = attachLoop(makeImage(join(tmp.dir, 'plain.img'), 16 * MiB), { readOnly: true });
    sh('mkfs.ext4', ['-q', parted.partitions[1]]);
    mkdirSync(mnt);
    sh('mount', [parted.partitions[1], mnt]);
    mkdirSync(join(mnt, 'appliance'));
  });
  afterAll(() => {
    try {
      execFileSync('umount', [mnt], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
    parted?.detach();
    plain?.detach();
    tmp.remove();
  });

  it('lists loop devices with partitions, mounts and the appliance flag', async () => {
    const drives = await listDrives({ applianceDir: join(mnt, 'appliance') });
    const d = drives.find((x) => x.device === parted.device);
    expect(d).toEqual({
      device: parted.device,
      kind: 'loop',
      description: `Loop device (${image})`,
      size: 48 * MiB,
      isSystem: false,
      systemHolds: [],
      isAppliance: true,
      isRemovable: false,
      isReadOnly: false,
      backingFile: image,
      mountpoints: [mnt],
      holders: [],
      partitions: [
        { device: parted.partitions[0], number: 1, start: 2048 * 512, size: 20480 * 512, mountpoints: [] },
        { device: parted.partitions[1], number: 2, start: 22528 * 512, size: 40960 * 512, mountpoints: [mnt] },
      ],
    });
    const p = drives.find((x) => x.device === plain.device);
    expect(p).toMatchObject({ kind: 'loop', size: 16 * MiB, isAppliance: false, isReadOnly: true, mountpoints: [], partitions: [] });
  });

  it('marks the disk holding / as the system disk, from mounts, and nothing else', async () => {
    const drives = await listDrives();
    const root = deviceOfPath('/');
    for (const d of drives) expect(d.isSystem).toBe(root?.disks.includes(d.device) ?? false);
    const sys = drives.find((d) => d.isSystem);
    if (sys) expect(sys.systemHolds).toContain('/');
  });
});
