import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, openSync, closeSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, type Loop, makeImage, sh, tempDir, unmount } from '../devices/loop-device.js';
import { cliPath, runCli, runCliJson } from '../helpers/cli.js';

const MiB = 1024 * 1024;

interface Version {
  seq: number;
  kind: string;
  size: number;
  sha256: string;
}

describe('versions of a file', () => {
  const tmp = tempDir('chronodisk-versions-');
  const app = join(tmp.dir, 'appliance');
  const image = join(tmp.dir, 'disk.img');
  const mnt = join(tmp.dir, 'mnt');
  let loop: Loop;
  const seqs: number[] = [];
  const capture = () => seqs.push(runCliJson<{ seq: number }>(['capture', '-a', app, 'vol']).seq);
  /** Mounts, runs the change, unmounts (so the image is consistent), captures a point. */
  const step = (change: () => void) => {
    sh('mount', [loop.device, mnt]);
    try {
      change();
    } finally {
      sh('umount', [mnt]);
    }
    capture();
  };
  const overwriteInPlace = (text: string, at: number) => {
    const fd = openSync(join(mnt, 'doc.txt'), 'r+');
    writeSync(fd, Buffer.from(text), 0, text.length, at);
    closeSync(fd);
  };

  beforeAll(() => {
    mkdirSync(mnt);
    makeImage(image, 64 * MiB);
    loop = attachLoop(image);
    sh('mkfs.ext4', ['-q', '-F', loop.device]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', image, '-a', app, '--name', 'vol']).status).toBe(0);
    capture(); // no file yet
    step(() => writeFileSync(join(mnt, 'doc.txt'), Buffer.alloc(300_000, 'first version\n'))); // created
    step(() => writeFileSync(join(mnt, 'other.txt'), 'unrelated')); // the file untouched
    step(() => overwriteInPlace('CHANGED IN PLACE', 100_000)); // same extents, data rewritten
    capture(); // nothing written at all
    step(() => {
      overwriteInPlace('two writes', 0); // two writes in one point count once
      overwriteInPlace('in one point', 200_000);
    });
    step(() => appendFileSync(join(mnt, 'doc.txt'), 'appended\n')); // grown
    step(() => overwriteInPlace('CHANGED IN PLACE', 100_000)); // rewritten with the same bytes: no new content
  }, 120_000);
  afterAll(() => {
    unmount(mnt);
    loop?.detach();
    tmp.remove();
  });

  it('lists exactly the creation and the three changes', () => {
    const v = runCliJson<Version[]>(['versions', '-a', app, 'vol', '/doc.txt']);
    expect(v.map((x) => x.kind)).toEqual(['created', 'changed', 'changed', 'changed']);
    expect(v.map((x) => x.seq)).toEqual([seqs[1], seqs[3], seqs[5], seqs[6]]);
    expect(v[3]!.size).toBe(300_000 + 9);
    // Each entry's hash is the file's content at that point, read back through cat.
    for (const x of v) {
      const cat = spawnSync(process.execPath, [cliPath, 'cat', '-a', app, 'vol', '--at', String(x.seq), '/doc.txt']);
      expect(createHash('sha256').update(cat.stdout).digest('hex')).toBe(x.sha256);
    }
    // Browsing without --at looks at the latest point; restoring must name its point.
    const latest = spawnSync(process.execPath, [cliPath, 'cat', '-a', app, 'vol', '/doc.txt']);
    expect(latest.status).toBe(0);
    expect(createHash('sha256').update(latest.stdout).digest('hex')).toBe(v[3]!.sha256);
    const unnamed = spawnSync(process.execPath, [cliPath, 'restore-files', '-a', app, 'vol', '/doc.txt', '--to', join(tmp.dir, 'unnamed')], { encoding: 'utf8' });
    expect(unnamed.status).not.toBe(0);
    expect(unnamed.stderr).toMatch(/--at <point>/);
    expect(existsSync(join(tmp.dir, 'unnamed'))).toBe(false);
  });

  it('diff --files names the files added, removed and changed between two points', () => {
    type D = { added: Array<{ path: string }>; removed: Array<{ path: string }>; changed: Array<{ path: string; what: string }> };
    const diff = (x: number, y: number) => runCliJson<D>(['diff', '-a', app, 'vol', String(x), String(y), '--files']);
    const all = diff(seqs[0]!, seqs[6]!);
    expect(all.added.map((f) => f.path).sort()).toEqual(['/doc.txt', '/other.txt']);
    expect(all.removed).toEqual([]);
    const inPlace = diff(seqs[2]!, seqs[3]!);
    expect(inPlace.added).toEqual([]);
    expect(inPlace.changed.filter((f) => f.what === 'content').map((f) => f.path)).toEqual(['/doc.txt']);
    const none = diff(seqs[3]!, seqs[4]!);
    expect([none.added, none.removed, none.changed]).toEqual([[], [], []]);
    const back = diff(seqs[6]!, seqs[1]!);
    expect(back.removed.map((f) => f.path)).toEqual(['/other.txt']);
  });

  it('a file that never existed has no versions', () => {
    expect(runCliJson<Version[]>(['versions', '-a', app, 'vol', '/nope'])).toEqual([]);
  });
});
