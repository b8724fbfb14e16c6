import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { detectFileSystem, openFileSystem } from '../../electron/engine/fs/filesystem.js';
import { openVolume, readPartitionTable } from '../../electron/engine/fs/partitions.js';
import { makeFatImage } from './fat-image.js';
import { expectSameTree, makeSourceTree } from './source-tree.js';

const MiB = 1024 * 1024;
let work: string;
let extTree: string;
let fatTree: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'chronodisk-parts-'));
  extTree = join(work, 'ext-tree');
  fatTree = join(work, 'fat-tree');
  makeSourceTree(extTree, { unix: true, manyFiles: 20, largeBytes: MiB });
  makeSourceTree(fatTree, { unix: false, astralNames: false, manyFiles: 20, largeBytes: MiB });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function blankDisk(name: string, sizeMiB: number): string {
  const img = join(work, name);
  writeFileSync(img, '');
  truncateSync(img, sizeMiB * MiB);
  return img;
}

function ext4Image(name: string, sizeBytes: number): string {
  const img = join(work, name);
  writeFileSync(img, '');
  truncateSync(img, sizeBytes);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', extTree, img], { stdio: 'pipe' });
  return img;
}

/** Copies a filesystem image into the disk at byte `offset` (dd conv=notrunc). */
function place(disk: string, fsImage: string, offset: number): void {
  execFileSync('dd', [`if=${fsImage}`, `of=${disk}`, 'bs=1M', `seek=${offset}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
}

/** What sfdisk sees: partition node number → start and size in bytes. */
function sfdiskView(disk: string): Map<number, { start: number; size: number }> {
  const json = JSON.parse(execFileSync('sfdisk', ['--json', disk]).toString()) as { partitiontable: { partitions: { node: string; start: number; size: number }[]; sectorsize?: number } };
  const ss = json.partitiontable.sectorsize ?? 512;
  return new Map(json.partitiontable.partitions.map((p) => [Number(/(\d+)$/.exec(p.node)![1]), { start: p.start * ss, size: p.size * ss }]));
}

describe('partition tables', () => {
  it('browses both partitions of a GPT disk (ext4 and FAT32), and falls back to the backup GPT', async () => {
    const disk = blankDisk('gpt.img', 100);
    execFileSync('sgdisk', ['-n', '1:2048:+40M', '-t', '1:8300', '-c', '1:rootfs', '-n', '2:0:+45M', '-t', '2:0700', '-c', '2:DATA', disk], { stdio: 'pipe' });
    const view = sfdiskView(disk);
    place(disk, ext4Image('p1.img', view.get(1)!.size), view.get(1)!.start);
    const fatImg = join(work, 'p2.img');
    makeFatImage(fatImg, fatTree, 32, view.get(2)!.size / MiB, 'DATA');
    place(disk, fatImg, view.get(2)!.start);
    const src = new FileSource(disk);
    try {
      const volumes = await readPartitionTable(src);
      expect(volumes.map((v) => [v.number, v.table, v.type, v.label, v.offset, v.size])).toEqual([
        [1, 'gpt', 'linux', 'rootfs', view.get(1)!.start, view.get(1)!.size],
        [2, 'gpt', 'microsoft-basic-data', 'DATA', view.get(2)!.start, view.get(2)!.size],
      ]);
      const ext = await detectFileSystem(await openVolume(src, 1));
      expect(ext.kind).toBe('ext4');
      await expectSameTree(ext, extTree, { mtimeResolutionUs: 1_000_000, unix: true });
      const fat = await detectFileSystem(await openVolume(src, 2));
      expect(fat.kind).toBe('fat32');
      await expectSameTree(fat, fatTree, { mtimeResolutionUs: 2_000_000, unix: false, dirMtime: false });
      expect((await openFileSystem(src, 2)).label).toBe('DATA');
      await expect(openVolume(src, 3)).rejects.toMatchObject({ code: 'not-found', message: expect.stringContaining('partition 3') });
      await expect(openVolume(src)).rejects.toMatchObject({ code: 'usage' });
    } finally {
      src.close();
    }
    // Break the primary header: the backup at the end of the disk still names both partitions.
    const fd = openSync(disk, 'r+');
    writeSync(fd, Buffer.from('garbage!'), 0, 8, 512 + 24);
    closeSync(fd);
    const again = new FileSource(disk);
    try {
      expect((await readPartitionTable(again)).map((v) => v.label)).toEqual(['rootfs', 'DATA']);
    } finally {
      again.close();
    }
  });

  it('numbers MBR logical partitions from 5 and browses one', async () => {
    const disk = blankDisk('mbr.img', 120);
    execFileSync('sfdisk', ['-q', disk], { input: 'label: dos\n,20MiB,83\n,,5\n,40MiB,83\n,,b\n', stdio: ['pipe', 'pipe', 'pipe'] });
    const view = sfdiskView(disk);
    place(disk, ext4Image('p5.img', view.get(5)!.size), view.get(5)!.start);
    const src = new FileSource(disk);
    try {
      const volumes = await readPartitionTable(src);
      expect(volumes.map((v) => [v.number, v.type])).toEqual([
        [1, 'linux'],
        [2, 'extended'],
        [5, 'linux'],
        [6, 'fat32'],
      ]);
      for (const v of volumes) if (v.type !== 'extended') expect([v.offset, v.size]).toEqual([view.get(v.number)!.start, view.get(v.number)!.size]);
      const ext = await detectFileSystem(await openVolume(src, 5));
      await expectSameTree(ext, extTree, { mtimeResolutionUs: 1_000_000, unix: true });
    } finally {
      src.close();
    }
  });

  it('reads a GPT written with 4096-byte sectors', async () => {
    const disk = blankDisk('gpt4k.img', 16);
    const loop = execFileSync('losetup', ['-f', '--show', '-b', '4096', disk]).toString().trim();
    try {
      execFileSync('sgdisk', ['-n', '1:0:+4M', '-c', '1:four-k', loop], { stdio: 'pipe' });
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
    const src = new FileSource(disk);
    try {
      // sgdisk puts partition 1 at 1 MiB: sector 256 of 4096 bytes.
      expect(await readPartitionTable(src)).toMatchObject([{ number: 1, table: 'gpt', label: 'four-k', offset: 1024 * 1024, size: 4 * MiB }]);
    } finally {
      src.close();
    }
  });

  it('treats a disk with a filesystem and no table as one volume', async () => {
    for (const img of [ext4Image('bare-ext4.img', 64 * MiB), join(work, 'bare-fat.img')]) {
      if (img.endsWith('bare-fat.img')) makeFatImage(img, fatTree, 16, 32, 'BARE');
      const src = new FileSource(img);
      try {
        expect(await readPartitionTable(src)).toEqual([{ number: 0, table: 'none', type: 'disk', offset: 0, size: src.size }]);
        const fs = await detectFileSystem(await openVolume(src));
        expect(fs.kind).toBe(img.endsWith('bare-fat.img') ? 'fat16' : 'ext4');
        expect(readFileSync(join(img.endsWith('bare-fat.img') ? fatTree : extTree, 'hello.txt')).equals(await fs.readFile('/hello.txt'))).toBe(true);
      } finally {
        src.close();
      }
    }
  });
});
