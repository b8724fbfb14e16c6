import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { FatReader } from '../../electron/engine/fs/fat.js';
import { detectFileSystem } from '../../electron/engine/fs/filesystem.js';
import { makeFatImage } from './fat-image.js';
import { PatchedSource } from './fuzz-images.js';
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
        // A long-name chain whose checksum does not match its short entry is ignored: the 8.3 name stands.
        const bytes = readFileSync(img);
        const shortEntry = (await fs.stat('/MixedCase.TXT')).ino - 2 ** 32;
        const patched = await detectFileSystem(new PatchedSource(bytes, bytes.length, new Map([[shortEntry - 32 + 13, bytes[shortEntry - 32 + 13]! ^ 1]])));
        const names = (await patched.list('/')).map((e) => e.name);
        expect(names).not.toContain('MixedCase.TXT');
        const short = names.find((n) => /^MIXEDC~\d\.TXT$/.test(n));
        expect(short, names.join(', ')).toBeDefined();
        expect((await patched.readFile(`/${short}`)).toString()).toBe('mixed');
        // 'lower.txt' is stored as a bare 8.3 entry with the NT lower-case flags, no long name.
        const lowerEntry = (await fs.stat('/lower.txt')).ino - 2 ** 32;
        expect([bytes.toString('latin1', lowerEntry, lowerEntry + 11), bytes[lowerEntry + 12]! & 0x18]).toEqual(['LOWER   TXT', 0x18]);
        expect(bytes[lowerEntry - 32 + 11]).not.toBe(0x0f);
        const extents = await fs.fileExtents('/large.bin');
        expect(extents.reduce((n, e) => n + e.length, 0)).toBe((await fs.stat('/large.bin')).size);
      } finally {
        src.close();
      }
    });
  }
});
