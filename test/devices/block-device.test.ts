import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityMatches, probeSource } from '../../electron/engine/devices/block-device.js';
import { decodeDev } from '../../electron/engine/devices/sysfs-block.js';
import { isChronodiskError, permissionDenied } from '../../electron/engine/errors.js';
import { reachableRepo, spawnUnprivileged } from '../helpers/unprivileged.js';
import { attachLoop, makeImage, makePartitionedImage, repoRoot, tempDir, tsNodeArgs } from './loop-device.js';

const MiB = 1024 * 1024;

describe('probeSource', () => {
  const tmp = tempDir();
  const image = join(tmp.dir, 'disk.img');
  const parted = join(tmp.dir, 'parted.img');
  beforeAll(() => {
    makeImage(image, 32 * MiB);
    makePartitionedImage(parted, 32 * MiB, [
      [2048, 20480],
      [22528, 20480],
    ]);
  });
  afterAll(() => tmp.remove());

  it('describes an image file by path and inode', async () => {
    const info = await probeSource(image);
    const st = statSync(image, { bigint: true });
    expect(info).toMatchObject({ kind: 'file', realPath: image, size: 32 * MiB, readOnly: false });
    expect(info.identity.file).toEqual({ path: image, dev: `${decodeDev(st.dev).major}:${decodeDev(st.dev).minor}`, ino: String(st.ino) });
    expect(identityMatches(info.identity, (await probeSource(image)).identity)).toBe(true);
  });

  it('describes a loop device, resolving a symlink to it, and knows it by its backing file', async () => {
    const loop = attachLoop(image);
    try {
      const link = join(tmp.dir, 'by-id-link');
      symlinkSync(loop.device, link);
      const info = await probeSource(link);
      const rdev = decodeDev(statSync(loop.device).rdev);
      expect(info).toMatchObject({
        kind: 'loop',
        path: link,
        realPath: loop.device,
        name: loop.device.slice(5),
        size: 32 * MiB,
        dev: rdev,
        logicalSectorSize: 512,
        readOnly: false,
      });
      expect(info.dev?.major).toBe(7);
      expect(info.identity.backingFile).toBe(image);
      expect(info.identity.serial).toBeUndefined();

      // The same image on another loop number is the same disk; another image is not.
      const other = makeImage(join(tmp.dir, 'other.img'), 32 * MiB);
      const loop2 = attachLoop(image);
      const loop3 = attachLoop(other);
      try {
        const again = await probeSource(loop2.device);
        expect(again.realPath).not.toBe(info.realPath);
        expect(again.diskSeq).not.toBe(info.diskSeq);
        expect(identityMatches(info.identity, again.identity)).toBe(true);
        expect(identityMatches(info.identity, (await probeSource(loop3.device)).identity)).toBe(false);
      } finally {
        loop2.detach();
        loop3.detach();
      }
    } finally {
      loop.detach();
    }
  });

  it('sees a re-attach under the same name: same identity, new diskSeq', async () => {
    const loop = attachLoop(image);
    const before = await probeSource(loop.device);
    loop.detach();
    // Re-attach on the same number (another test may have taken it meanwhile: then try no further).
    const r = spawnSync('losetup', [loop.device, image], { encoding: 'utf8' });
    if (r.status !== 0) return;
    try {
      const after = await probeSource(loop.device);
      expect(after.realPath).toBe(before.realPath);
      expect(identityMatches(before.identity, after.identity)).toBe(true);
      expect(typeof after.diskSeq).toBe('number');
      expect(after.diskSeq).not.toBe(before.diskSeq);
    } finally {
      spawnSync('losetup', ['-d', loop.device]);
    }
  });

  it('describes a partition: its parent disk, start offset and number', async () => {
    const loop = attachLoop(parted, { partitions: 2 });
    try {
      const p2 = await probeSource(loop.partitions[1]);
      const parentDev = decodeDev(statSync(loop.device).rdev);
      expect(p2).toMatchObject({
        kind: 'partition',
        realPath: loop.partitions[1],
        size: 20480 * 512,
        partition: { number: 2, start: 22528 * 512, parent: loop.device, parentDev },
      });
      expect(p2.identity.backingFile).toBe(parted);
      expect(p2.identity.partition).toEqual({ number: 2, start: 22528 * 512 });
      const p1 = await probeSource(loop.partitions[0]);
      const disk = await probeSource(loop.device);
      expect(disk.kind).toBe('loop');
      expect(identityMatches(p1.identity, p2.identity)).toBe(false);
      expect(identityMatches(p2.identity, disk.identity)).toBe(false);
      expect(identityMatches(p2.identity, (await probeSource(loop.partitions[1])).identity)).toBe(true);
    } finally {
      loop.detach();
    }
  });

  it('reports a read-only loop device as read-only', async () => {
    const loop = attachLoop(image, { readOnly: true });
    try {
      expect((await probeSource(loop.device)).readOnly).toBe(true);
    } finally {
      loop.detach();
    }
  });

  it('refuses a missing path and a directory with one clear message each', async () => {
    const missing = await probeSource(join(tmp.dir, 'nope')).catch((e: unknown) => e);
    expect(isChronodiskError(missing, 'not-found')).toBe(true);
    expect((missing as Error).message).toBe(`${join(tmp.dir, 'nope')} does not exist`);
    const dir = join(tmp.dir, 'adir');
    mkdirSync(dir);
    const isDir = await probeSource(dir).catch((e: unknown) => e);
    expect(isChronodiskError(isDir, 'usage')).toBe(true);
    expect((isDir as Error).message).toBe(`${dir} is a directory, not a disk or image file`);
  });

  it('says "permission denied" to an unprivileged user probing a device', () => {
    const loop = attachLoop(image);
    const repo = reachableRepo();
    const script = join(tmp.dir, 'probe-child.ts');
    writeFileSync(
      script,
      `import { probeSource } from ${JSON.stringify(repo.path(join(repoRoot, 'electron/engine/devices/block-device.js')))};
probeSource(process.argv[2]).then(() => console.log('ok'), (e) => console.log(e.code + ': ' + e.message));\n`,
    );
    chmodSync(tmp.dir, 0o755);
    try {
      const r = spawnUnprivileged(process.execPath, [...tsNodeArgs.map(repo.path), script, loop.device], {
        cwd: tmp.dir,
        env: { ...process.env, HOME: tmp.dir },
      });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(`permission: ${loop.device}: permission denied reading it (run as root or fix its permissions)`);
    } finally {
      loop.detach();
      repo.release();
    }
  });
});

describe('permissionDenied', () => {
  // Root refused (EPERM under a container's device rules, as /dev/vda is on our build
  // VMs) cannot be set up the same way on every machine, so the wording is checked here.
  it('tells root that running as root will not help', () => {
    expect(process.getuid?.()).toBe(0);
    const e = permissionDenied('/dev/vda', ' reading it', Object.assign(new Error('EPERM'), { code: 'EPERM' }));
    expect(isChronodiskError(e, 'permission')).toBe(true);
    expect(e.message).toBe('/dev/vda: permission denied reading it (refused even to root: a container or a security module such as SELinux or AppArmor does not allow it)');
  });
});

describe('identityMatches', () => {
  const disk = (o: object) => ({ byId: [], ...o });
  it('matches disks by WWN, serial or by-id link, whatever their /dev name', () => {
    expect(identityMatches(disk({ serial: 'S1', model: 'M' }), disk({ serial: 'S1', model: 'M' }))).toBe(true);
    expect(identityMatches(disk({ serial: 'S1' }), disk({ serial: 'S2' }))).toBe(false);
    expect(identityMatches(disk({ wwn: 'naa.1', serial: 'S1' }), disk({ wwn: 'naa.1', serial: 'S1' }))).toBe(true);
    expect(identityMatches(disk({ wwn: 'naa.1' }), disk({ wwn: 'naa.2' }))).toBe(false);
    expect(identityMatches(disk({ serial: 'S1', model: 'A' }), disk({ serial: 'S1', model: 'B' }))).toBe(false);
    expect(identityMatches(disk({ serial: 'S1' }), disk({}))).toBe(false);
    expect(identityMatches(disk({ byId: ['/dev/disk/by-id/ata-X'] }), disk({ byId: ['/dev/disk/by-id/ata-X', '/dev/disk/by-id/wwn-1'] }))).toBe(true);
    expect(identityMatches(disk({}), disk({}))).toBe(false);
  });
  it('matches partitions only on the same disk at the same place', () => {
    const p = (n: number, start: number) => disk({ serial: 'S', partition: { number: n, start } });
    expect(identityMatches(p(1, 1048576), p(1, 1048576))).toBe(true);
    expect(identityMatches(p(1, 1048576), p(2, 1048576))).toBe(false);
    expect(identityMatches(p(1, 1048576), p(1, 2097152))).toBe(false);
    expect(identityMatches(p(1, 1048576), disk({ serial: 'S' }))).toBe(false);
  });
  it('matches loop devices by backing file and offset', () => {
    expect(identityMatches(disk({ backingFile: '/a.img' }), disk({ backingFile: '/a.img' }))).toBe(true);
    expect(identityMatches(disk({ backingFile: '/a.img' }), disk({ backingFile: '/b.img' }))).toBe(false);
    expect(identityMatches(disk({ backingFile: '/a.img', backingOffset: 1048576 }), disk({ backingFile: '/a.img' }))).toBe(false);
  });
  it('matches files by path and inode', () => {
    const f = (path: string, ino: string) => disk({ file: { path, dev: '254:0', ino } });
    expect(identityMatches(f('/a.img', '5'), f('/a.img', '5'))).toBe(true);
    expect(identityMatches(f('/a.img', '5'), f('/a.img', '6'))).toBe(false);
    expect(identityMatches(f('/a.img', '5'), f('/b.img', '5'))).toBe(false);
  });
});
