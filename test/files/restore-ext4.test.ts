import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, tempDir } from '../devices/loop-device.js';
import { cliPath, runCli, runCliJson } from '../helpers/cli.js';
import { buildTree, describeTree, listTree } from './tree-fixture.js';

const MiB = 1024 * 1024;

describe('restore-files of an ext4 tree at two points', () => {
  const tmp = tempDir('chronodisk-files-ext4-');
  const app = join(tmp.dir, 'appliance');
  const image = join(tmp.dir, 'disk.img');
  const treeA = join(tmp.dir, 'treeA');
  const treeB = join(tmp.dir, 'treeB');
  const seqs: number[] = [];
  const skip = (p: string) => p === 'lost+found';

  const captureTree = (tree: string) => {
    sh('mkfs.ext4', ['-q', '-F', '-d', tree, '-b', '4096', image, '256M']);
    seqs.push(runCliJson<{ seq: number }>(['capture', '-a', app, 'vol']).seq);
  };

  beforeAll(() => {
    buildTree(treeA, { posix: true, files: 2100 });
    // cp -a keeps hard links (fs.cpSync would split them).
    sh('cp', ['-a', treeA, treeB]);
    writeFileSync(image, '');
    sh('truncate', ['-s', '256M', image]);
    sh('mkfs.ext4', ['-q', '-F', image]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', image, '-a', app, '--name', 'vol']).status).toBe(0);
    captureTree(treeA);
    // Point B: files changed, removed, added, a mode and a link changed.
    appendFileSync(join(treeB, 'large.bin'), 'grown at B');
    for (const p of listTree(treeB).filter((p) => p.endsWith('.dat')).slice(0, 50)) unlinkSync(join(treeB, p));
    mkdirSync(join(treeB, 'new at B'));
    for (let i = 0; i < 30; i++) writeFileSync(join(treeB, 'new at B', `n${i}`), `new file ${i}\n`.repeat(i * 10));
    chmodSync(join(treeB, 'shared'), 0o600);
    unlinkSync(join(treeB, 'link-to-large'));
    sh('ln', ['-s', 'sparse.img', join(treeB, 'link-to-large')]);
    for (const p of ['large.bin', 'shared', 'new at B', '.']) utimesSync(join(treeB, p), 1_700_000_000, 1_700_000_000);
    captureTree(treeB);
  }, 120_000);
  afterAll(() => tmp.remove());

  it('restores / at A and at B equal to the tree as it was', () => {
    expect(listTree(treeA).length).toBeGreaterThanOrEqual(2000);
    for (const [i, tree] of [treeA, treeB].entries()) {
      const out = join(tmp.dir, `out${i}`);
      const r = runCliJson<{ files: number; hardLinks: number; symlinks: number }>(['restore-files', '-a', app, 'vol', '--at', String(seqs[i]), '/', '--to', out]);
      expect(r.hardLinks).toBeGreaterThanOrEqual(3);
      expect(describeTree(out, { posix: true, skip })).toEqual(describeTree(tree, { posix: true }));
      const diff = spawnSync('diff', ['-r', '--no-dereference', '-x', 'lost+found', tree, out], { encoding: 'utf8' });
      expect(diff.status, diff.stdout + diff.stderr).toBe(0);
      // Sparse stays sparse: 40 MiB apparent, a few blocks allocated.
      expect(statSync(join(out, 'sparse.img')).blocks * 512).toBeLessThan(MiB);
    }
  }, 120_000);

  it('lists, cats, and refuses an existing target before writing anything', () => {
    const list = runCliJson<Array<{ name: string; type: string; size: number; mode: number; target?: string }>>(['ls', '-a', app, 'vol', '--at', String(seqs[0]), '/']);
    const link = list.find((e) => e.name === 'link-to-large');
    expect(link).toMatchObject({ type: 'symlink', target: 'large.bin' });
    expect(list.find((e) => e.name === 'large.bin')).toMatchObject({ type: 'file', size: 6 * MiB });
    const cat = spawnSync(process.execPath, [cliPath, 'cat', '-a', app, 'vol', '--at', String(seqs[1]), '/shared']);
    expect(cat.stdout.toString()).toBe('shared by three names\n');
    const dest = join(tmp.dir, 'refuse');
    mkdirSync(dest);
    writeFileSync(join(dest, 'shared'), 'mine');
    const r = runCli(['restore-files', '-a', app, 'vol', '--at', String(seqs[0]), '/shared', '/large.bin', '--to', dest]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/already exist.*--overwrite/);
    expect(listTree(dest)).toEqual(['shared']);
    const ok = runCli(['restore-files', '-a', app, 'vol', '--at', String(seqs[0]), '/shared', '/large.bin', '--to', dest, '--overwrite']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(listTree(dest)).toEqual(['large.bin', 'shared']);

    // A --to that is a file, or below one; an image --out that is a directory, or below a
    // file: one line each, exit 2, and the file as it was.
    const file = join(dest, 'shared');
    const before = readFileSync(file);
    for (const [args, message] of [
      [['restore-files', '-a', app, 'vol', '--at', String(seqs[0]), '/shared', '--to', file], /is not a directory; name a directory to restore into/],
      [['restore-files', '-a', app, 'vol', '--at', String(seqs[0]), '/shared', '--to', join(file, 'x')], /: a part of its path is a file, not a directory$/],
      [['image', '-a', app, 'vol', '--at', String(seqs[0]), '--out', dest, '--force'], /is a directory; name the file to write$/],
      [['image', '-a', app, 'vol', '--at', String(seqs[0]), '--out', join(file, 'x.img')], /: a part of its path is a file, not a directory$/],
    ] as const) {
      const bad = runCli([...args]);
      expect({ status: bad.status, lines: bad.stderr.trim().split('\n').length }, bad.stderr).toEqual({ status: 2, lines: 1 });
      expect(bad.stderr.trim()).toMatch(message);
      expect(readFileSync(file).equals(before)).toBe(true);
    }
    expect(listTree(dest)).toEqual(['large.bin', 'shared']);
  });
});
