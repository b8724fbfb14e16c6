import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync, unlinkSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, makeImage, makePartitionedImage, sh, tempDir } from '../devices/loop-device.js';
import { cliPath, runCli, runCliJson } from '../helpers/cli.js';
import { buildTree, describeTree, listTree } from './tree-fixture.js';

const MiB = 1024 * 1024;

/** Fills a FAT image with mtools (the kernel here has no vfat driver). */
function mcopyTree(image: string, tree: string, offset = 0): void {
  const target = offset ? `${image}@@${offset}` : image;
  const r = spawnSync('mcopy', ['-s', '-m', '-Q', '-i', target, ...readdirSync(tree).map((n) => join(tree, n)), '::/'], {
    encoding: 'utf8',
    env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', MTOOLS_SKIP_CHECK: '1' },
  });
  if (r.status !== 0) throw new Error(`mcopy: ${r.stderr}`);
}

/** Fills an exFAT image through exfat-fuse (it wants a block device: a loop device over the image). */
function fuseCopyTree(image: string, tree: string, mnt: string): void {
  mkdirSync(mnt, { recursive: true });
  const loop = attachLoop(image);
  try {
    sh('mount.exfat-fuse', [loop.device, mnt]);
    try {
      sh('cp', ['-r', `${tree}/.`, mnt]);
    } finally {
      sh('umount', [mnt]);
    }
  } finally {
    loop.detach();
  }
}

describe('restore-files of FAT32 and exFAT trees, and a GPT disk with two filesystems', () => {
  const tmp = tempDir('chronodisk-files-fat-');
  const app = join(tmp.dir, 'appliance');
  const treeA = join(tmp.dir, 'treeA');
  const treeB = join(tmp.dir, 'treeB');

  beforeAll(() => {
    buildTree(treeA, { posix: false, files: 2000 });
    sh('cp', ['-a', treeA, treeB]);
    appendFileSync(join(treeB, 'large.bin'), 'grown at B');
    for (const p of listTree(treeB).filter((p) => p.endsWith('.dat')).slice(0, 40)) unlinkSync(join(treeB, p));
    mkdirSync(join(treeB, 'new at B'));
    for (let i = 0; i < 20; i++) writeFileSync(join(treeB, 'new at B', `n${i}`), `new ${i}\n`.repeat(i * 50));
    expect(runCli(['init', app]).status).toBe(0);
  }, 60_000);
  afterAll(() => tmp.remove());

  const twoPoints = (name: string, make: (image: string, tree: string) => void) => {
    const image = join(tmp.dir, `${name}.img`);
    makeImage(image, 128 * MiB);
    expect(runCli(['protect', image, '-a', app, '--name', name]).status).toBe(0);
    const seqs: number[] = [];
    for (const tree of [treeA, treeB]) {
      make(image, tree);
      seqs.push(runCliJson<{ seq: number }>(['capture', '-a', app, name]).seq);
    }
    for (const [i, tree] of [treeA, treeB].entries()) {
      const out = join(tmp.dir, `${name}-out${i}`);
      runCliJson(['restore-files', '-a', app, name, '--at', String(seqs[i]), '/', '--to', out]);
      expect(describeTree(out, { posix: false })).toEqual(describeTree(tree, { posix: false }));
    }
  };

  it('FAT32 (mkfs.vfat + mcopy): each point restores equal in content and names', () => {
    twoPoints('fat', (image, tree) => {
      sh('mkfs.vfat', ['-F', '32', image]);
      mcopyTree(image, tree);
    });
  }, 120_000);

  it('exFAT (mkfs.exfat + exfat-fuse): each point restores equal in content and names', () => {
    twoPoints('exfat', (image, tree) => {
      sh('mkfs.exfat', [image]);
      fuseCopyTree(image, tree, join(tmp.dir, 'mnt'));
    });
  }, 120_000);

  it('a GPT disk with ext4 and FAT32 browses as DISK:1 and DISK:2', () => {
    const disk = join(tmp.dir, 'gpt.img');
    const [s1, n1, s2, n2] = [2048, 65536, 2048 + 65536, 81920];
    makePartitionedImage(disk, 96 * MiB, [[s1, n1], [s2, n2]]);
    const small = join(tmp.dir, 'small');
    mkdirSync(join(small, 'sub'), { recursive: true });
    writeFileSync(join(small, 'sub', 'hello.txt'), 'hello from a partition\n');
    const p1 = join(tmp.dir, 'p1.img');
    sh('mkfs.ext4', ['-q', '-F', '-d', small, p1, `${(n1 * 512) / 1024}k`]);
    sh('dd', [`if=${p1}`, `of=${disk}`, 'bs=512', `seek=${s1}`, 'conv=notrunc,sparse', 'status=none']);
    const p2 = join(tmp.dir, 'p2.img');
    makeImage(p2, n2 * 512);
    sh('mkfs.vfat', ['-F', '32', p2]);
    mcopyTree(p2, small);
    writeFileSync(join(small, 'only-fat.txt'), 'x');
    sh('dd', [`if=${p2}`, `of=${disk}`, 'bs=512', `seek=${s2}`, 'conv=notrunc', 'status=none']);
    expect(runCli(['protect', disk, '-a', app, '--name', 'gpt']).status).toBe(0);
    runCliJson(['capture', '-a', app, 'gpt']);
    const names = (n: number, path: string) => runCliJson<Array<{ name: string }>>(['ls', '-a', app, `gpt:${n}`, '--at', 'now', path]).map((e) => e.name);
    expect(names(1, '/')).toEqual(['lost+found', 'sub']);
    expect(names(2, '/')).toEqual(['sub']);
    for (const n of [1, 2]) {
      const cat = spawnSync(process.execPath, [cliPath, 'cat', '-a', app, `gpt:${n}`, '--at', 'now', '/sub/hello.txt']);
      expect(cat.stdout.toString()).toBe('hello from a partition\n');
    }
    const whole = runCli(['ls', '-a', app, 'gpt', '--at', 'now']);
    expect(whole.status).toBe(2);
    expect(whole.stderr).toMatch(/2 partitions.*DISK:N/);
    expect(runCli(['ls', '-a', app, 'gpt:3', '--at', 'now']).stderr).toMatch(/partition 3 does not exist/);
  });
});
