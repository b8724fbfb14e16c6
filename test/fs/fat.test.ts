import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { FatReader } from '../../electron/engine/fs/fat.js';
import { detectFileSystem } from '../../electron/engine/fs/filesystem.js';
import { makeFatImage } from './fat-image.js';
import { expectSameTree, makeSourceTree } from './source-tree.js';

let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'chronodisk-fat-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const variants: [12 | 16 | 32, number, number][] = [
  [12, 16, 300],
  [16, 64, 2100],
  [32, 300, 2100],
];

describe('FAT reader', () => {
  for (const [bits, sizeMiB, many] of variants) {
    it(`reads every file and long name of a FAT${bits} image filled by mcopy`, async () => {
      const tree = join(work, `tree${bits}`);
      makeSourceTree(tree, { unix: false, astralNames: false, manyFiles: many, largeBytes: (bits === 12 ? 1 : 5) * 1024 * 1024 });
      const img = join(work, `fat${bits}.img`);
      makeFatImage(img, tree, bits, sizeMiB, `VOL${bits}`);
      const src = new FileSource(img);
      try {
        const fs = await detectFileSystem(src);
        expect(fs).toBeInstanceOf(FatReader);
        expect(fs.kind).toBe(`fat${bits}`);
        expect(fs.label).toBe(`VOL${bits}`);
        await expectSameTree(fs, tree, { mtimeResolutionUs: 2_000_000, unix: false, dirMtime: false });
        expect((await fs.list('/many')).length).toBe(many);
        // Names match without regard to case, as on Windows.
        expect((await fs.stat('/mixedcase.txt')).name).toBe('MixedCase.TXT');
        const extents = await fs.fileExtents('/large.bin');
        expect(extents.reduce((n, e) => n + e.length, 0)).toBe((await fs.stat('/large.bin')).size);
      } finally {
        src.close();
      }
    });
  }
});
