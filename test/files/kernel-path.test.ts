import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, mkdirSync, writeFileSync, symlinkSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, makeImage, sh, tempDir, unmount } from '../devices/loop-device.js';
import { cliPath, runCli, runCliJson } from '../helpers/cli.js';
import { spawnSync } from 'node:child_process';
import { describeTree } from './tree-fixture.js';

const xfsReason = !readFileSync('/proc/filesystems', 'utf8').includes('xfs')
  ? 'the kernel has no xfs'
  : process.getuid?.() !== 0
    ? 'the kernel path needs root'
    : undefined;
if (xfsReason) console.log(`skipping the XFS kernel-path test: ${xfsReason}`);

describe.skipIf(xfsReason !== undefined)('an XFS image browsed through the kernel path (NBD + nbdfuse + loop, ro,norecovery)', () => {
  const tmp = tempDir('chronodisk-files-xfs-');
  afterAll(() => tmp.remove());

  it('ls, cat and restore-files read it, and nothing stays attached', () => {
    const image = join(tmp.dir, 'xfs.img');
    const src = join(tmp.dir, 'src');
    mkdirSync(join(src, 'docs', 'été'), { recursive: true });
    writeFileSync(join(src, 'docs', 'été', 'note.txt'), 'written on xfs\n');
    writeFileSync(join(src, 'big.bin'), Buffer.alloc(3 << 20, 'xfs '));
    symlinkSync('docs/été/note.txt', join(src, 'link'));
    linkSync(join(src, 'big.bin'), join(src, 'docs', 'big-again.bin'));
    makeImage(image, 320 << 20);
    sh('mkfs.xfs', ['-q', image]);
    const mnt = join(tmp.dir, 'mnt');
    mkdirSync(mnt);
    const loop = attachLoop(image);
    try {
      sh('mount', [loop.device, mnt]);
      sh('cp', ['-a', `${src}/.`, mnt]);
      sh('umount', [mnt]);
    } finally {
      unmount(mnt);
      loop.detach();
    }
    const app = join(tmp.dir, 'appliance');
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', image, '-a', app, '--name', 'x']).status).toBe(0);
    runCliJson(['capture', '-a', app, 'x']);
    const ls = runCliJson<Array<{ name: string; type: string; target?: string }>>(['ls', '-a', app, 'x', '--at', 'now', '/']);
    expect(ls.map((e) => e.name).sort()).toEqual(['big.bin', 'docs', 'link']);
    expect(ls.find((e) => e.name === 'link')?.target).toBe('docs/été/note.txt');
    const cat = spawnSync(process.execPath, [cliPath, 'cat', '-a', app, 'x', '--at', 'now', '/docs/été/note.txt']);
    expect(cat.stdout.toString()).toBe('written on xfs\n');
    const out = join(tmp.dir, 'out');
    const r = runCliJson<{ hardLinks: number }>(['restore-files', '-a', app, 'x', '--at', 'now', '/', '--to', out]);
    expect(r.hardLinks).toBe(1);
    expect(describeTree(out, { posix: true })).toEqual(describeTree(src, { posix: true }));
    expect(readFileSync('/proc/mounts', 'utf8')).not.toMatch(/chronodisk-kmount/);
    expect(sh('losetup', ['-a'])).not.toMatch(/chronodisk-kmount/);
  }, 120_000);
});
