import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { detectFileSystem } from '../../electron/engine/fs/filesystem.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'chronodisk-detect-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function image(name: string, sizeMiB: number, make?: (img: string) => void): FileSource {
  const img = join(work, name);
  writeFileSync(img, '');
  truncateSync(img, sizeMiB * 1024 * 1024);
  make?.(img);
  return new FileSource(img);
}

describe('detectFileSystem', () => {
  it('says what it found when no in-process reader fits (so callers can use the kernel path)', async () => {
    const cases: [FileSource, string][] = [
      [image('xfs.img', 320, (img) => execFileSync('mkfs.xfs', ['-q', '-f', img], { stdio: 'pipe' })), 'XFS'],
      [image('swap.img', 8, (img) => execFileSync('mkswap', [img], { stdio: 'pipe' })), 'swap'],
      [image('zeros.img', 1), 'all zeros'],
    ];
    for (const [src, word] of cases) {
      try {
        await expect(detectFileSystem(src)).rejects.toMatchObject({ code: 'not-found', message: expect.stringContaining(word) });
      } finally {
        src.close();
      }
    }
  });

  it('calls a FAT boot sector with impossible numbers damaged', async () => {
    const src = image('bad-fat.img', 32, (img) => {
      execFileSync('mkfs.vfat', ['-F', '16', img], { stdio: 'pipe' });
      // Reserved sectors so large the data area starts past the end of the volume.
      execFileSync('dd', [`of=${img}`, 'bs=1', 'seek=14', 'count=2', 'conv=notrunc', 'status=none'], { input: Buffer.from([0xff, 0xff]) });
    });
    try {
      await expect(detectFileSystem(src)).rejects.toMatchObject({ code: 'damaged', message: expect.stringContaining('FAT boot sector') });
    } finally {
      src.close();
    }
  });
});
