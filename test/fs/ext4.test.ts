import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { Ext4Reader } from '../../electron/engine/fs/ext4.js';
import { detectFileSystem } from '../../electron/engine/fs/filesystem.js';
import { expectSameTree, makeSourceTree } from './source-tree.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let work: string;
let tree: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'chronodisk-ext4-'));
  tree = join(work, 'tree');
  makeSourceTree(tree, { unix: true, manyFiles: 2100, largeBytes: 5 * 1024 * 1024 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function mkfs(name: string, args: string[], sizeMiB = 96): string {
  const img = join(work, `${name}.img`);
  writeFileSync(img, '');
  truncateSync(img, sizeMiB * 1024 * 1024);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', name, ...args, '-d', tree, img], { stdio: 'pipe' });
  // mkfs.ext4 -d keeps whole seconds only: give one file nanoseconds (123456789) to read back.
  const debugfs = (cmd: string) => execFileSync('debugfs', ['-w', '-R', cmd, img], { stdio: 'pipe' }).toString();
  debugfs('sif /hello.txt mtime_extra 0x1D6F3454');
  if (args.includes('inline_data')) {
    // mke2fs 1.47.0 drops a file's trailing hole when inline_data is on; put the sizes back.
    debugfs('sif /sparse.bin size 20971520');
    debugfs('sif /all-hole.bin size 3145728');
  }
  // mkfs.ext4 -d writes linear directories; e2fsck -D indexes the big one (htree).
  const fix = spawnSync('e2fsck', ['-fyD', img], { stdio: 'pipe' });
  if (fix.status !== 0 && fix.status !== 1) throw new Error(`e2fsck -fyD ${img}: ${fix.stderr}`);
  execFileSync('e2fsck', ['-fn', img], { stdio: 'pipe' });
  const flags = /Flags: 0x([0-9a-f]+)/.exec(String(debugfs('stat /many')))?.[1];
  expect(parseInt(flags ?? '0', 16) & 0x1000, 'the big directory has an htree index').toBe(0x1000);
  return img;
}

const variants: [string, string[], string, number?][] = [
  ['ext4', [], 'ext4'],
  ['ext4-1k-32bit', ['-b', '1024', '-O', '^64bit'], 'ext4'],
  ['ext4-meta-bg', ['-O', '64bit,meta_bg,^resize_inode'], 'ext4'],
  ['ext4-inline', ['-O', 'inline_data', '-I', '512'], 'ext4'],
  ['ext4-64k', ['-b', '65536'], 'ext4', 320],
  ['ext3', ['-t', 'ext3'], 'ext3'],
  ['ext2-2k', ['-t', 'ext2', '-b', '2048'], 'ext2'],
];

describe('ext2/3/4 reader', () => {
  for (const [name, args, kind, sizeMiB] of variants) {
    it(`reads every file of a ${name} image made by mkfs.ext4 -d`, async () => {
      const img = mkfs(name, args, sizeMiB);
      const src = new FileSource(img);
      try {
        const fs = await detectFileSystem(src);
        expect(fs).toBeInstanceOf(Ext4Reader);
        expect(fs.kind).toBe(kind);
        expect(fs.label).toBe(name);
        await expectSameTree(fs, tree, { mtimeResolutionUs: 1_000_000, unix: true });
        expect((await fs.list('/many')).length).toBe(2100);
        expect((await fs.stat('/hello.txt')).mtimeUs % 1_000_000).toBe(123456);
        // Holes are left out of the extents, and each extent holds the file's bytes.
        const extents = await fs.fileExtents('/sparse.bin');
        const mapped = extents.reduce((n, e) => n + e.length, 0);
        expect(mapped).toBeLessThan(1024 * 1024);
        const sparse = readFileSync(join(tree, 'sparse.bin'));
        for (const e of extents) {
          expect((await src.read(e.diskOffset, e.length)).equals(sparse.subarray(e.fileOffset, e.fileOffset + e.length))).toBe(true);
        }
        // No data blocks (with inline_data mke2fs left it an inline file: at most the 60 bytes in the inode).
        expect((await fs.fileExtents('/all-hole.bin')).reduce((n, e) => n + e.length, 0)).toBeLessThanOrEqual(60);
        const part = await fs.read('/large.bin', 1_000_001, 3_000_000);
        expect(part.equals(readFileSync(join(tree, 'large.bin')).subarray(1_000_001, 4_000_001))).toBe(true);
        await expect(fs.stat('/no/such/file')).rejects.toMatchObject({ code: 'not-found' });
      } finally {
        src.close();
      }
    });
  }
});

describe('ext4 written by the kernel', () => {
  it('reads unwritten (fallocated) extents as zeros, leaves them out of the extents, and lists a 10,000-entry directory', async () => {
    const img = join(work, 'kernel.img');
    writeFileSync(img, '');
    truncateSync(img, 128 * 1024 * 1024);
    execFileSync('mkfs.ext4', ['-q', '-F', img], { stdio: 'pipe' });
    const mnt = `${img}.mnt`;
    mkdirSync(mnt);
    const loop = execFileSync('losetup', ['-f', '--show', img]).toString().trim();
    const want = new Map<string, string>();
    try {
      execFileSync('mount', [loop, mnt]);
      try {
        execFileSync('fallocate', ['-l', '4M', join(mnt, 'prealloc.bin')]);
        // Some real data in the middle of the preallocated range, the rest stays unwritten.
        execFileSync('dd', ['if=/dev/urandom', `of=${join(mnt, 'prealloc.bin')}`, 'bs=64K', 'seek=10', 'count=3', 'conv=notrunc', 'status=none']);
        // Preallocated past the end of the file (KEEP_SIZE): invisible to readers.
        writeFileSync(join(mnt, 'keep-size.bin'), randomBytes(10_000));
        execFileSync('fallocate', ['-n', '-o', '10000', '-l', '1M', join(mnt, 'keep-size.bin')]);
        mkdirSync(join(mnt, 'big'));
        for (let i = 0; i < 10_000; i++) writeFileSync(join(mnt, 'big', `file-${i}`), '');
        for (const name of ['prealloc.bin', 'keep-size.bin']) want.set(name, sha(readFileSync(join(mnt, name))));
      } finally {
        execFileSync('umount', [mnt]);
      }
    } finally {
      execFileSync('losetup', ['-d', loop]);
      rmdirSync(mnt);
    }
    const src = new FileSource(img);
    try {
      const fs = await detectFileSystem(src);
      for (const [name, hash] of want) expect(sha(await fs.readFile(`/${name}`)), name).toBe(hash);
      const extents = await fs.fileExtents('/prealloc.bin');
      expect(extents.reduce((n, e) => n + e.length, 0)).toBe(3 * 65536);
      expect(extents[0]!.fileOffset).toBe(10 * 65536);
      expect((await fs.stat('/keep-size.bin')).size).toBe(10_000);
      const names = (await fs.list('/big')).map((e) => e.name);
      expect(names.length).toBe(10_000);
      expect(new Set(names).size).toBe(10_000);
    } finally {
      src.close();
    }
  });
});

describe('ext4 with one damaged inode', () => {
  it('still lists the directory (the entry as other) and reads the rest; the entry itself is damaged', async () => {
    const img = join(work, 'one-bad-inode.img');
    writeFileSync(img, '');
    truncateSync(img, 64 * 1024 * 1024);
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, img], { stdio: 'pipe' });
    execFileSync('debugfs', ['-w', '-R', 'sif /lower.txt size_hi 0x300000', img], { stdio: 'pipe' });
    const src = new FileSource(img);
    try {
      const fs = await detectFileSystem(src);
      const entry = (await fs.list('/')).find((e) => e.name === 'lower.txt');
      expect(entry?.type).toBe('other');
      await expect(fs.stat('/lower.txt')).rejects.toMatchObject({ code: 'damaged', message: expect.stringContaining('inode') });
      await expect(fs.readFile('/lower.txt')).rejects.toMatchObject({ code: 'damaged' });
      expect((await fs.readFile('/hello.txt')).equals(readFileSync(join(tree, 'hello.txt')))).toBe(true);
    } finally {
      src.close();
    }
  });
});
