import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BlockSource } from '../../electron/engine/block-source.js';
import { makeExfatImage } from './exfat-image.js';
import { makeFatImage } from './fat-image.js';

/** An image held in memory with some bytes replaced and perhaps cut short: one fuzz case. */
export class PatchedSource implements BlockSource {
  constructor(
    private readonly base: Buffer,
    readonly size: number,
    private readonly patches: Map<number, number>,
  ) {}
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.size) throw new RangeError(`read of ${length} bytes at ${offset} is outside the ${this.size}-byte image`);
    const out = Buffer.from(this.base.subarray(offset, offset + length));
    for (const [at, value] of this.patches) if (at >= offset && at < offset + length) out[at - offset] = value;
    return out;
  }
}

export { prng } from '../helpers/prng.js';

export interface FuzzImage {
  name: string;
  bytes: Buffer;
}

/**
 * An ext4 image as a crash would leave it while mounted: the files fsynced (their metadata
 * committed to the journal) but not written home, so reading it means replaying the journal.
 */
function crashImage(img: string, tree: string): Buffer {
  blank(img, 24 * 1024 * 1024);
  execFileSync('mkfs.ext4', ['-q', '-F', img], { stdio: 'pipe' });
  const mnt = `${img}.mnt`;
  mkdirSync(mnt);
  const loop = execFileSync('losetup', ['-f', '--show', img]).toString().trim();
  try {
    execFileSync('mount', [loop, mnt]);
    try {
      execFileSync('cp', ['-a', ...readdirSync(tree).map((n) => join(tree, n)), mnt]);
      const files = execFileSync('find', [mnt, '-type', 'f']).toString().trim().split('\n');
      for (let i = 0; i < files.length; i += 200) execFileSync('sync', files.slice(i, i + 200));
      return readFileSync(img);
    } finally {
      execFileSync('umount', [mnt]);
    }
  } finally {
    execFileSync('losetup', ['-d', loop]);
    rmdirSync(mnt);
  }
}

function blank(path: string, bytes: number): void {
  writeFileSync(path, '');
  truncateSync(path, bytes);
}

/** The clean images the fuzz starts from, each filled with `tree` (or `fatTree` for FAT and exFAT). */
export function buildFuzzImages(work: string, tree: string, fatTree: string): FuzzImage[] {
  const MiB = 1024 * 1024;
  const out: FuzzImage[] = [];
  const ext = (name: string, args: string[]) => {
    const img = join(work, `${name}.img`);
    blank(img, 24 * MiB);
    execFileSync('mkfs.ext4', ['-q', '-F', ...args, '-d', tree, img], { stdio: 'pipe' });
    out.push({ name, bytes: readFileSync(img) });
  };
  ext('ext4', ['-b', '4096']);
  out.push({ name: 'ext4-journal', bytes: crashImage(join(work, 'journal.img'), tree) });
  ext('ext2-1k', ['-t', 'ext2', '-b', '1024']);
  ext('ext4-inline', ['-O', 'inline_data,^has_journal', '-b', '1024']);
  for (const [bits, size] of [[12, 4], [16, 16], [32, 34]] as const) {
    const img = join(work, `fat${bits}.img`);
    makeFatImage(img, fatTree, bits, size, `FUZZ${bits}`);
    out.push({ name: `fat${bits}`, bytes: readFileSync(img) });
  }
  const exfat = join(work, 'exfat.img');
  makeExfatImage(exfat, fatTree, 8, 'FUZZEX');
  out.push({ name: 'exfat', bytes: readFileSync(exfat) });
  const gpt = join(work, 'gpt.img');
  blank(gpt, 4 * MiB);
  execFileSync('sgdisk', ['-n', '1:2048:+1M', '-c', '1:one', '-n', '2:0:+1M', '-c', '2:two', gpt], { stdio: 'pipe' });
  out.push({ name: 'gpt', bytes: readFileSync(gpt) });
  const mbr = join(work, 'mbr.img');
  blank(mbr, 4 * MiB);
  execFileSync('sfdisk', ['-q', mbr], { input: 'label: dos\n,1MiB,83\n,,5\n,512KiB,83\n,512KiB,b\n,,83\n', stdio: ['pipe', 'pipe', 'pipe'] });
  out.push({ name: 'mbr', bytes: readFileSync(mbr) });
  return out;
}
