import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSource } from '../../electron/engine/devices/block-device.js';
import { deviceOfPath, mountsOf, systemDisks } from '../../electron/engine/devices/mounts.js';
import { holdersOf } from '../../electron/engine/devices/sysfs-block.js';
import { type ApplianceFacts, checkProtectSource, checkRestoreTarget, factsOf } from '../../electron/engine/devices/target-rules.js';
import { attachLoop, type Loop, makeImage, makePartitionedImage, sh, tempDir } from './loop-device.js';

const MiB = 1024 * 1024;

/** The rules fed with facts gathered from real loop devices, as the restore and protect verbs will. */
describe('target rules on real devices', () => {
  const tmp = tempDir();
  const applianceMnt = join(tmp.dir, 'appliance-fs');
  const busyMnt = join(tmp.dir, 'busy');
  const loops: Loop[] = [];
  let applianceLoop: Loop;
  let free: Loop;
  let small: Loop;
  let busy: Loop;
  let readOnly: Loop;
  let appliance: ApplianceFacts;
  const imageSize = 32 * MiB;

  beforeAll(() => {
    const attach = (...a: Parameters<typeof attachLoop>) => {
      const l = attachLoop(...a);
      loops.push(l);
      return l;
    };
    applianceLoop = attach(makePartitionedImage(join(tmp.dir, 'appl.img'), 48 * MiB, [[2048, 40960], [43008, 20480]]), { partitions: 2 });
    free = attach(makeImage(join(tmp.dir, 'free.img'), 40 * MiB));
    small = attach(makeImage(join(tmp.dir, 'small.img'), 16 * MiB));
    busy = attach(makeImage(join(tmp.dir, 'busy.img'), 40 * MiB));
    readOnly = attach(makeImage(join(tmp.dir, 'ro.img'), 40 * MiB), { readOnly: true });
    sh('mkfs.ext4', ['-q', applianceLoop.partitions[0]]);
    sh('mkfs.ext4', ['-q', busy.device]);
    mkdirSync(applianceMnt);
    mkdirSync(busyMnt);
    sh('mount', [applianceLoop.partitions[0], applianceMnt]);
    sh('mount', [busy.device, busyMnt]);
    const dir = join(applianceMnt, 'chronodisk');
    mkdirSync(dir);
    const where = deviceOfPath(dir)!;
    appliance = { dir, device: where.device, devices: where.devices, disks: where.disks };
  });
  afterAll(() => {
    for (const m of [applianceMnt, busyMnt]) {
      try {
        execFileSync('umount', [m], { stdio: 'ignore' });
      } catch {
        // not mounted
      }
    }
    for (const l of loops) l.detach();
    tmp.remove();
  });

  const restoreProblems = async (dev: string) => {
    const info = await probeSource(dev);
    const target = factsOf(info);
    return checkRestoreTarget({ target, imageSize, systemDisks: systemDisks(), appliance, mounts: mountsOf(dev), holders: holdersOf(info.name!) });
  };

  it('accepts a free loop device as a restore target', async () => {
    expect(await restoreProblems(free.device)).toEqual([]);
  });

  it("refuses the appliance's device, a too-small one, a mounted one and a read-only one", async () => {
    expect((await restoreProblems(applianceLoop.device)).map((p) => p.rule)).toEqual(['appliance-disk', 'mounted']);
    expect((await restoreProblems(applianceLoop.partitions[1])).map((p) => p.rule)).toEqual(['appliance-disk', 'too-small']);
    expect(await restoreProblems(small.device)).toEqual([
      { rule: 'too-small', message: `${small.device} is too small: the image needs 32.0 MiB, the disk has 16.0 MiB` },
    ]);
    expect(await restoreProblems(busy.device)).toEqual([
      { rule: 'mounted', message: `${busy.device} is in use: mounted at ${busyMnt} (${busy.device}); unmount it first` },
    ]);
    expect((await restoreProblems(readOnly.device)).map((p) => p.rule)).toEqual(['read-only']);
  });

  it('refuses the disk holding / (found from mounts)', () => {
    const root = deviceOfPath('/');
    if (!root) return; // / on a filesystem with no block device: nothing to refuse
    const disk = root.disks[0];
    const target = { path: disk, kind: 'disk' as const, size: 1024 * 1024 * MiB, readOnly: false, device: disk, disks: [disk] };
    const problems = checkRestoreTarget({ target, imageSize, systemDisks: systemDisks(), appliance, mounts: [] });
    // The appliance's loop image lives in a temp dir, usually on that same disk.
    expect(problems.map((p) => p.rule)).toEqual(['system-disk', ...(appliance.disks.includes(disk) ? ['appliance-disk'] : [])]);
    expect(problems[0].message).toContain('it holds /');
  });

  it("refuses to protect the appliance's disk or partition, but not its other partition", async () => {
    const protect = async (dev: string) => checkProtectSource({ source: factsOf(await probeSource(dev)), appliance, readable: true });
    expect((await protect(applianceLoop.device)).map((p) => p.rule)).toEqual(['appliance-disk']);
    expect((await protect(applianceLoop.partitions[0])).map((p) => p.rule)).toEqual(['appliance-disk']);
    expect(await protect(applianceLoop.partitions[1])).toEqual([]);
    expect(await protect(free.device)).toEqual([]);
  });
});
