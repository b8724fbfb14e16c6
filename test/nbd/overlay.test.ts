/**
 * The copy-on-write overlay against a plain model: random unaligned writes, zeroes and trims,
 * many in flight at once (never overlapping, as a client would issue them), must read back
 * exactly as the model says; the base never changes.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../electron/engine/block-source.js';
import { OverlayExport } from '../../electron/engine/nbd/overlay-export.js';
import { SourceExport } from '../../electron/engine/nbd/source-export.js';
import { fileSha256, sha256, tempDir, writeRandomImage } from './fixtures.js';

function rng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

describe('copy-on-write overlay', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('matches a model under concurrent unaligned writes, zeroes and trims; the base is untouched', async () => {
    // An odd size, so the last block is partial.
    const size = 3 * 1024 * 1024 + 12_345;
    const image = join(tmp.dir, 'base.img');
    const model = writeRandomImage(image, size);
    const baseSha = sha256(model);
    const source = new FileSource(image);
    const overlay = OverlayExport.open(new SourceExport(source), tmp.dir);
    try {
      const r = rng(7);
      for (let round = 0; round < 40; round++) {
        // A batch of disjoint ranges, all issued at once.
        const cuts = new Set<number>();
        while (cuts.size < 16) cuts.add(r(size));
        const points = [0, ...[...cuts].sort((a, b) => a - b), size];
        const ops: Promise<void>[] = [];
        for (let i = 0; i + 1 < points.length; i += 2) {
          const off = points[i];
          const len = Math.min(points[i + 1] - off, 1 + r(200_000));
          if (len <= 0) continue;
          const kind = r(4);
          if (kind <= 1) {
            const data = Buffer.alloc(len, 1 + r(255));
            data.copy(model, off);
            ops.push(overlay.write(off, data));
          } else {
            model.fill(0, off, off + len);
            ops.push(kind === 2 ? overlay.zero(off, len, { fua: false, noHole: false, fast: false }) : overlay.trim(off, len));
          }
        }
        await Promise.all(ops);
        const a = r(size);
        const n = Math.min(size - a, 1 + r(300_000));
        expect((await overlay.read(a, n)).equals(model.subarray(a, a + n))).toBe(true);
      }
      expect(sha256(await overlay.read(0, size))).toBe(sha256(model));
      expect(fileSha256(image)).toBe(baseSha);
      // A fresh overlay over the same base sees the original.
      const fresh = OverlayExport.open(new SourceExport(source), tmp.dir);
      expect(sha256(await fresh.read(0, size))).toBe(baseSha);
      await fresh.close();
    } finally {
      await overlay.close();
      source.close();
    }
  });

  it('reports allocation: zeroed blocks as holes, written ones as data, the rest as the base says', async () => {
    const RUN = 64 * 1024;
    const base = {
      size: 16 * RUN,
      read: async (_o: number, n: number) => Buffer.alloc(n),
      // The base: odd 64 KiB runs are holes.
      extents: async (o: number, n: number) => {
        const out = [];
        for (let at = o; at < o + n; ) {
          const end = Math.min(o + n, (Math.floor(at / RUN) + 1) * RUN);
          out.push({ offset: at, length: end - at, zero: Math.floor(at / RUN) % 2 === 1 });
          at = end;
        }
        return out;
      },
    };
    const overlay = OverlayExport.open(new SourceExport(base), tmp.dir);
    try {
      await overlay.write(1 * RUN, Buffer.alloc(RUN, 7)); // a hole becomes data
      await overlay.zero(2 * RUN, 2 * RUN, { fua: false, noHole: false, fast: false }); // data becomes a hole
      const map = (await overlay.extents(0, 6 * RUN)).map((x) => [x.offset / RUN, x.length / RUN, x.zero]);
      expect(map).toEqual([
        [0, 2, false],
        [2, 2, true],
        [4, 1, false],
        [5, 1, true],
      ]);
    } finally {
      await overlay.close();
    }
  });

  it('keeps two partial writes to one block when they race', async () => {
    const image = join(tmp.dir, 'race.img');
    const model = writeRandomImage(image, 1 << 20);
    const source = new FileSource(image);
    const overlay = OverlayExport.open(new SourceExport(source), tmp.dir);
    try {
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 16; i++) {
        const data = Buffer.alloc(512, i + 1);
        data.copy(model, 4096 + i * 1024);
        writes.push(overlay.write(4096 + i * 1024, data));
      }
      await Promise.all(writes);
      expect((await overlay.read(0, 1 << 20)).equals(model)).toBe(true);
    } finally {
      await overlay.close();
      source.close();
    }
  });
});
