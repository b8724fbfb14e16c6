import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, makeImage, makePartitionedImage, sh, tempDir, type Loop } from '../devices/loop-device.js';
import { cliPath, runCli } from '../helpers/cli.js';
import { reachableRepo, spawnUnprivileged } from '../helpers/unprivileged.js';
import { applianceHash } from '../helpers/appliance-hash.js';
import { Appliance } from '../../electron/engine/appliance.js';
import { protectableDrives } from '../../electron/engine/capture/drive-choices.js';

const MiB = 1024 * 1024;

describe('protect refuses what it must, with one clear line and nothing written', () => {
  const tmp = tempDir('chronodisk-protect-');
  const fsDir = join(tmp.dir, 'appfs');
  const app = join(fsDir, 'appliance');
  let appLoop: Loop;
  let other: Loop;

  beforeAll(() => {
    // The appliance lives on a filesystem of its own loop device.
    mkdirSync(fsDir);
    makeImage(join(tmp.dir, 'appfs.img'), 64 * MiB);
    appLoop = attachLoop(join(tmp.dir, 'appfs.img'));
    sh('mkfs.ext4', ['-q', '-F', appLoop.device]);
    sh('mount', [appLoop.device, fsDir]);
    expect(runCli(['init', app]).status).toBe(0);
    makeImage(join(tmp.dir, 'other.img'), 16 * MiB);
    other = attachLoop(join(tmp.dir, 'other.img'));
  });
  afterAll(() => {
    spawnSync('umount', [fsDir]);
    appLoop?.detach();
    other?.detach();
    tmp.remove();
  });

  /** Usage errors (a directory, a bad name) exit 2; the rest 1. */
  const refused = (args: string[], pattern: RegExp, status = 1) => {
    const before = applianceHash(app);
    const r = runCli(['protect', ...args, '-a', app]);
    expect(r.status, r.stderr).toBe(status);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(applianceHash(app)).toBe(before);
  };

  it("refuses the appliance's own device", () => refused([appLoop.device], /holds the appliance .* cannot protect itself/));
  it('refuses a missing path', () => refused([join(tmp.dir, 'nope.img')], /does not exist/));
  it('refuses a directory', () => refused([tmp.dir], /is a directory, not a disk or image file/, 2));

  it('refuses, as an unprivileged user, a device it cannot read', () => {
    // The appliance must be writable by that user for the refusal to be about the device.
    spawnSync('chown', ['-R', '65534:65534', app]);
    chmodSync(tmp.dir, 0o755);
    const before = applianceHash(app);
    const repo = reachableRepo();
    try {
      const r = spawnUnprivileged(process.execPath, [repo.path(cliPath), 'protect', other.device, '-a', app]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/permission denied|cannot be read/i);
      expect(applianceHash(app)).toBe(before);
    } finally {
      repo.release();
      spawnSync('chown', ['-R', '0:0', app]);
    }
  });

  it('protects a readable device, and refuses a second disk of the same name, or the same source twice', () => {
    expect(runCli(['protect', other.device, '-a', app, '--name', 'other']).status).toBe(0);
    refused([other.device, '--name', 'other'], /already protected/);
    refused([other.device, '--name', 'twice'], new RegExp(`${other.device} is already protected as other; unprotect other first`));
    const img = join(tmp.dir, 'named.img');
    makeImage(img, 4 * MiB);
    makeImage(join(tmp.dir, 'badname.img'), 4 * MiB);
    refused([img, '--name', 'other'], /a disk named "other" is already protected; pick another --name/);
    // The same image file by another path (a symlink) is the same source.
    const link = join(tmp.dir, 'named-link.img');
    symlinkSync(img, link);
    expect(runCli(['protect', img, '-a', app, '--name', 'named']).status).toBe(0);
    refused([link, '--name', 'linked'], /named-link.img is already protected as named/);
    refused([join(tmp.dir, 'badname.img'), '--name', 'bad:name'], /cannot name a disk/, 2);
  });

  it('refuses a partition of a protected whole disk, and the whole disk of a protected partition', async () => {
    const img = makePartitionedImage(join(tmp.dir, 'parted.img'), 32 * MiB, [
      [2048, 16384],
      [18432, 16384],
    ]);
    const parted = attachLoop(img, { partitions: 2 });
    try {
      const [p1, p2] = parted.partitions as [string, string];
      expect(runCli(['protect', p1, '-a', app, '--name', 'part1']).status).toBe(0);
      refused([parted.device, '--name', 'whole'], new RegExp(`${parted.device} and part1 \\(${p1}\\) are a disk and one of its partitions: protect the whole disk or its partitions, not both`));
      // The window's drive list says so before anyone asks.
      const listed = await Appliance.open(app).then(async (a) => {
        try {
          return (await protectableDrives(a)).find((d) => d.device === parted.device);
        } finally {
          a.close();
        }
      });
      expect(listed?.refusal).toMatch(/are a disk and one of its partitions/);
      expect(listed?.partitionChoices.find((p) => p.device === p1)).toMatchObject({ protectedAs: 'part1' });
      expect(listed?.partitionChoices.find((p) => p.device === p2)?.refusal).toBeUndefined();
      // Another partition of the same disk shares no blocks with the first: it is welcome.
      expect(runCli(['protect', p2, '-a', app, '--name', 'part2']).status).toBe(0);
      for (const name of ['part1', 'part2']) expect(runCli(['unprotect', name, '-a', app]).status).toBe(0);
      expect(runCli(['protect', parted.device, '-a', app, '--name', 'whole']).status).toBe(0);
      refused([p2, '--name', 'part2'], new RegExp(`${p2} and whole \\(${parted.device}\\) are a disk and one of its partitions`));
      const a = await Appliance.open(app);
      try {
        const drive = (await protectableDrives(a)).find((d) => d.device === parted.device)!;
        expect(drive.protectedAs).toBe('whole');
        for (const p of drive.partitionChoices) expect(p.refusal).toMatch(new RegExp(`${p.device} and whole .* are a disk and one of its partitions`));
      } finally {
        a.close();
      }
      expect(runCli(['unprotect', 'whole', '-a', app]).status).toBe(0);
    } finally {
      parted.detach();
    }
  });

  it('reports a source that changed size instead of capturing it', () => {
    const img = join(tmp.dir, 'grows.img');
    makeImage(img, 8 * MiB);
    expect(runCli(['protect', img, '-a', app, '--name', 'grows']).status).toBe(0);
    expect(runCli(['capture', 'grows', '-a', app]).status).toBe(0);
    makeImage(img, 16 * MiB);
    const before = applianceHash(app);
    const r = runCli(['capture', 'grows', '-a', app]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/changed size: it was 8388608 bytes and is now 16777216/);
    expect(applianceHash(app)).toBe(before);
  });
});
