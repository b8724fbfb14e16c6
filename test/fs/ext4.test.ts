import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { Ext4Reader } from '../../electron/engine/fs/ext4.js';
import { detectFileSystem } from '../../electron/engine/fs/filesystem.js';
import { expectSameTree, makeSourceTree } from './source-tree.js';

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
