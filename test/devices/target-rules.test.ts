import { describe, expect, it } from 'vitest';
import { checkProtectSource, checkRestoreTarget, type DeviceFacts } from '../../electron/engine/devices/target-rules.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const sdb: DeviceFacts = { path: '/dev/sdb', kind: 'disk', size: 8 * GiB, readOnly: false, device: '/dev/sdb', disks: ['/dev/sdb'] };
const sda: DeviceFacts = { path: '/dev/sda', kind: 'disk', size: 256 * GiB, readOnly: false, device: '/dev/sda', disks: ['/dev/sda'] };
const sda2: DeviceFacts = { path: '/dev/sda2', kind: 'partition', size: 100 * GiB, readOnly: false, device: '/dev/sda2', disks: ['/dev/sda'] };
const systemDisks = [{ disk: '/dev/sda', dev: { major: 8, minor: 0 }, holds: ['/', '[SWAP]'] }];
const appliance = { dir: '/media/backup/chronodisk', device: '/dev/sdc1', disks: ['/dev/sdc'] };
const base = { imageSize: 4 * GiB, systemDisks, appliance, mounts: [] };

describe('checkRestoreTarget', () => {
  it('accepts a big enough, unmounted, writable, unrelated disk', () => {
    expect(checkRestoreTarget({ ...base, target: sdb })).toEqual([]);
    expect(checkRestoreTarget({ ...base, target: { ...sdb, size: 4 * GiB } })).toEqual([]);
  });
  it('refuses the system disk, and any partition of it, as a hard error', () => {
    expect(checkRestoreTarget({ ...base, target: sda })).toEqual([
      { rule: 'system-disk', message: '/dev/sda is on the system disk /dev/sda (it holds /, [SWAP]): restore it from a live system or onto another disk' },
    ]);
    expect(checkRestoreTarget({ ...base, target: sda2 }).map((p) => p.rule)).toEqual(['system-disk']);
  });
  it("refuses the appliance's own disk, and an image file inside the appliance", () => {
    const sdc: DeviceFacts = { ...sdb, path: '/dev/disk/by-id/usb-X', device: '/dev/sdc', disks: ['/dev/sdc'] };
    expect(checkRestoreTarget({ ...base, target: sdc })).toEqual([
      { rule: 'appliance-disk', message: '/dev/disk/by-id/usb-X holds the appliance /media/backup/chronodisk: pick another disk' },
    ]);
    const inside: DeviceFacts = { path: '/media/backup/chronodisk/x.img', kind: 'file', size: 0, readOnly: false, disks: [] };
    expect(checkRestoreTarget({ ...base, target: inside }).map((p) => p.rule)).toEqual(['appliance-disk']);
    expect(checkRestoreTarget({ ...base, target: { ...inside, path: '/home/me/x.img' } })).toEqual([]);
  });
  it('refuses a disk that is too small, with sizes that differ visibly', () => {
    expect(checkRestoreTarget({ ...base, target: { ...sdb, size: 2 * GiB } })).toEqual([
      { rule: 'too-small', message: '/dev/sdb is too small: the image needs 4.00 GiB, the disk has 2.00 GiB' },
    ]);
    expect(checkRestoreTarget({ ...base, target: { ...sdb, size: 4 * GiB - 512 } })[0].message).toBe(
      `/dev/sdb is too small: the image needs 4.00 GiB (${4 * GiB} bytes), the disk has 4.00 GiB (${4 * GiB - 512} bytes)`,
    );
  });
  it('names the mount points of a mounted target', () => {
    const mounts = [
      { mountPoint: '/media/me/DATA', device: '/dev/sdb1', fsType: 'ext4' },
      { mountPoint: '[SWAP]', device: '/dev/sdb2', fsType: 'swap' },
    ];
    expect(checkRestoreTarget({ ...base, target: sdb, mounts })).toEqual([
      { rule: 'mounted', message: '/dev/sdb is in use: mounted at /media/me/DATA (/dev/sdb1), /dev/sdb2 (active swap); unmount it first' },
    ]);
  });
  it('refuses a disk that LVM, dm-crypt or RAID is using', () => {
    expect(checkRestoreTarget({ ...base, target: sdb, holders: ['dm-0', 'md127'] })).toEqual([
      { rule: 'in-use', message: '/dev/sdb is in use by /dev/dm-0, /dev/md127 (LVM, dm-crypt or RAID): stop that first' },
    ]);
    expect(checkRestoreTarget({ ...base, target: sdb, holders: [] })).toEqual([]);
  });
  it('refuses a read-only target and the disk the image came from, listing every problem', () => {
    expect(checkRestoreTarget({ ...base, target: { ...sdb, readOnly: true, size: MiB }, sourceDisks: ['/dev/sdb'] }).map((p) => p.rule)).toEqual([
      'source-disk',
      'too-small',
      'read-only',
    ]);
  });
});

describe('checkProtectSource', () => {
  it('accepts an ordinary disk, and another partition of the appliance disk', () => {
    expect(checkProtectSource({ source: sda, appliance, readable: true })).toEqual([]);
    const sdc2: DeviceFacts = { ...sda2, path: '/dev/sdc2', device: '/dev/sdc2', disks: ['/dev/sdc'] };
    expect(checkProtectSource({ source: sdc2, appliance, readable: true })).toEqual([]);
  });
  it("refuses the appliance's disk and the partition it lives on", () => {
    const sdc: DeviceFacts = { ...sdb, path: '/dev/sdc', device: '/dev/sdc', disks: ['/dev/sdc'] };
    const sdc1: DeviceFacts = { ...sda2, path: '/dev/sdc1', device: '/dev/sdc1', disks: ['/dev/sdc'] };
    const msg = (p: string) => `${p} holds the appliance /media/backup/chronodisk: an appliance cannot protect itself; put it on another disk`;
    expect(checkProtectSource({ source: sdc, appliance, readable: true })).toEqual([{ rule: 'appliance-disk', message: msg('/dev/sdc') }]);
    expect(checkProtectSource({ source: sdc1, appliance, readable: true })).toEqual([{ rule: 'appliance-disk', message: msg('/dev/sdc1') }]);
  });
  it('refuses the partition holding the image file an appliance on a loop device lives in', () => {
    const onLoop = { dir: '/mnt/appl/chronodisk', device: '/dev/loop0', devices: ['/dev/loop0', '/dev/sdc2'], disks: ['/dev/loop0', '/dev/sdc'] };
    const sdc2: DeviceFacts = { ...sda2, path: '/dev/sdc2', device: '/dev/sdc2', disks: ['/dev/sdc'] };
    const sdc1: DeviceFacts = { ...sda2, path: '/dev/sdc1', device: '/dev/sdc1', disks: ['/dev/sdc'] };
    expect(checkProtectSource({ source: sdc2, appliance: onLoop, readable: true }).map((p) => p.rule)).toEqual(['appliance-disk']);
    expect(checkProtectSource({ source: sdc1, appliance: onLoop, readable: true })).toEqual([]);
    expect(checkRestoreTarget({ ...base, appliance: onLoop, target: { ...sdb, path: '/dev/sdc', device: '/dev/sdc', disks: ['/dev/sdc'] } }).map((p) => p.rule)).toEqual(['appliance-disk']);
  });
  it('refuses image files and loop devices backed by files inside the appliance', () => {
    const file: DeviceFacts = { path: '/media/backup/chronodisk/segments/x', kind: 'file', size: MiB, readOnly: false, disks: [] };
    expect(checkProtectSource({ source: file, appliance, readable: true }).map((p) => p.rule)).toEqual(['appliance-disk']);
    const loop: DeviceFacts = { ...sdb, kind: 'loop', path: '/dev/loop0', device: '/dev/loop0', disks: ['/dev/loop0'], backingFile: '/media/backup/chronodisk/a.img' };
    expect(checkProtectSource({ source: loop, appliance, readable: true }).map((p) => p.rule)).toEqual(['appliance-disk']);
    expect(checkProtectSource({ source: { ...loop, backingFile: '/media/backup/chronodisk-other.img' }, appliance, readable: true })).toEqual([]);
  });
  it('refuses an unreadable source', () => {
    expect(checkProtectSource({ source: sdb, readable: false })).toEqual([
      { rule: 'unreadable', message: '/dev/sdb cannot be read: run as root or fix its permissions' },
    ]);
  });
});
