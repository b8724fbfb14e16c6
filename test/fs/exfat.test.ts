import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { ExfatReader } from '../../electron/engine/fs/exfat.js';
import { detectFileSystem } from '../../electron/engine/fs/filesystem.js';
import { makeExfatImage } from './exfat-image.js';
import { PatchedSource } from './fuzz-images.js';
import { expectSameTree, makeSourceTree } from './source-tree.js';

let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'chronodisk-exfat-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('exFAT reader', () => {
  it('reads every file and name of an exFAT image filled through exfat-fuse', async () => {
    const tree = join(work, 'tree');
    makeSourceTree(tree, { unix: false, manyFiles: 2100, largeBytes: 6 * 1024 * 1024 });
    const img = join(work, 'exfat.img');
    makeExfatImage(img, tree, 128, 'EXLABEL');
    const src = new FileSource(img);
    try {
      const fs = await detectFileSystem(src);
      expect(fs).toBeInstanceOf(ExfatReader);
      expect(fs.kind).toBe('exfat');
      expect(fs.label).toBe('EXLABEL');
      // exfat-fuse records whole seconds (the odd second through the 10 ms field).
      await expectSameTree(fs, tree, { mtimeResolutionUs: 1_000_000, unix: false });
      expect((await fs.list('/many')).length).toBe(2100);
      expect((await fs.stat('/MIXEDCASE.txt')).name).toBe('MixedCase.TXT');
      const extents = await fs.fileExtents('/large.bin');
      expect(extents.reduce((n, e) => n + e.length, 0)).toBe(6 * 1024 * 1024);
      // One entry set with a broken checksum: listed as 'other', unusable, the rest still reads.
      const bytes = readFileSync(img);
      const entry = (await fs.stat('/hello.txt')).ino - 2 ** 32;
      const broken = await detectFileSystem(new PatchedSource(bytes, bytes.length, new Map([[entry + 2, bytes[entry + 2]! ^ 0xff]])));
      expect((await broken.list('/')).find((e) => e.name === 'hello.txt')?.type).toBe('other');
      await expect(broken.readFile('/hello.txt')).rejects.toMatchObject({ code: 'damaged', message: expect.stringContaining('checksum') });
      expect((await broken.readFile('/lower.txt')).toString()).toBe('lower');
    } finally {
      src.close();
    }
  });
});
