import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { Ext4Reader } from '../../electron/engine/fs/ext4.js';
import { expectSameTree, makeSourceTree } from './source-tree.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'chronodisk-journal-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `body` with IMG attached to a loop device and mounted at a fresh directory; detaches in finally. */
function withMount(img: string, options: string[], body: (mnt: string, loop: string) => void): void {
  const mnt = join(work, `mnt-${Math.random().toString(36).slice(2)}`);
  mkdirSync(mnt);
  const loop = execFileSync('losetup', ['-f', '--show', img]).toString().trim();
  try {
    execFileSync('mount', [...options, loop, mnt]);
    try {
      body(mnt, loop);
    } finally {
      execFileSync('umount', [mnt]);
    }
  } finally {
    execFileSync('losetup', ['-d', loop]);
    rmdirSync(mnt);
  }
}

// ext4 (64-bit, checksummed v3 journal, extent-mapped journal inode) and ext3 with 1 KiB
// blocks (32-bit tags, no journal checksums, a journal inode of indirect blocks).
const variants: [string, string[]][] = [
  ['ext4', []],
  ['ext3-1k', ['-t', 'ext3', '-b', '1024']],
];

describe('ext4 journal replay', () => {
  for (const [name, args] of variants) it(`reads a crash image of a mounted ${name} (committed, not checkpointed) as the kernel mounts it`, async () => {
    const img = join(work, `${name}-live.img`);
    writeFileSync(img, '');
    truncateSync(img, 128 * 1024 * 1024);
    execFileSync('mkfs.ext4', ['-q', '-F', ...args, img], { stdio: 'pipe' });
    const snapshot = join(work, `${name}-snapshot.img`);
    withMount(img, [], (mnt, loop) => {
      makeSourceTree(join(mnt, 'tree'), { unix: true, manyFiles: 300, largeBytes: 2 * 1024 * 1024 });
      // fsync every file: their data and the metadata reach the journal (a commit), but
      // not their home blocks; sync(1) without arguments would write those too.
      const files = execFileSync('find', [join(mnt, 'tree'), '-type', 'f']).toString().trim().split('\n');
      for (let i = 0; i < files.length; i += 200) execFileSync('sync', files.slice(i, i + 200));
      // What has reached the disk (the loop device's backing file, not the kernel's dirty
      // buffers), as a crash would leave it: the journal holds metadata not yet written home.
      void loop;
      copyFileSync(img, snapshot);
    });
    const features = execFileSync('dumpe2fs', ['-h', snapshot], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(features, 'the snapshot still needs journal recovery').toMatch(/needs_recovery/);
    const src = new FileSource(snapshot);
    try {
      const fs = await Ext4Reader.open(src);
      expect(fs.journal).toBe('replayed');
      // The kernel replays the journal when it mounts a copy; the two must agree on every byte and time.
      const replayed = join(work, `${name}-kernel-replayed.img`);
      copyFileSync(snapshot, replayed);
      await compareWithKernel(fs, replayed);
    } finally {
      src.close();
    }
  });
});

/** Mounts IMG read-only (the kernel replays its journal into the loop device) and compares the reader with it. */
async function compareWithKernel(fs: Ext4Reader, img: string): Promise<void> {
  const mnt = join(work, 'kernel-mnt');
  mkdirSync(mnt);
  const loop = execFileSync('losetup', ['-f', '--show', img]).toString().trim();
  try {
    execFileSync('mount', ['-o', 'ro', loop, mnt]);
    try {
      await expectSameTree(fs, mnt, { mtimeResolutionUs: 1, unix: true });
    } finally {
      execFileSync('umount', [mnt]);
    }
  } finally {
    execFileSync('losetup', ['-d', loop]);
    rmdirSync(mnt);
  }
}
