import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { prng, sha256, writeRandom } from '../helpers/history.js';

/**
 * A time image keeps the time map's answers per 1 MiB window, and a reader that moves on to
 * the next window gets several windows in one lookup. Reads in every pattern that mixes
 * them — sequential in export-sized and odd-sized pieces, backwards, random — must return
 * exactly the shadow copy, on a disk whose size is not a multiple of a window (the last
 * one is short).
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-windows-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('time-image windows and read-ahead', () => {
  it('reads every point exactly, sequentially, backwards and at random, on an unaligned disk', async () => {
    const dir = join(root, 'app');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true });
    try {
      const size = 9 * MiB + 4 * KiB + 512;
      const d = app.addDisk({ name: 'odd', source: '/dev/null', size, mode: 'scan', blockSize: 65536, identity: {} });
      const rand = prng(0x51de);
      const shadow = Buffer.alloc(size);
      const kept: Array<{ seq: number; image: Buffer }> = [];
      for (let batch = 0; batch < 40; batch++) {
        const b = app.beginBatch(d);
        // Writes that straddle window boundaries, and short ones inside windows.
        for (let i = 0; i < 25; i++) {
          const length = 1 + Math.floor(rand() * (rand() < 0.3 ? 2 * MiB : 40 * KiB));
          const offset = Math.floor(rand() * (size - length));
          writeRandom(b, shadow, rand, offset, length);
        }
        const p = await b.commit();
        if (batch % 8 === 7) kept.push({ seq: p.seq, image: Buffer.from(shadow) });
      }
      for (const { seq, image } of kept) {
        const img = app.image(d, seq);
        const read = (at: number, length: number) => {
          const out = Buffer.alloc(length);
          img.readInto(out, at);
          return out;
        };
        for (const piece of [256 * KiB, 4 * MiB, 300 * KiB + 7]) {
          const parts: Buffer[] = [];
          for (let at = 0; at < size; at += piece) parts.push(read(at, Math.min(piece, size - at)));
          expect(sha256(Buffer.concat(parts)), `point ${seq}, sequential ${piece}-byte reads`).toBe(sha256(image));
        }
        const backwards: Buffer[] = [];
        for (let end = size; end > 0; end -= 256 * KiB) backwards.unshift(read(Math.max(0, end - 256 * KiB), Math.min(256 * KiB, end)));
        expect(sha256(Buffer.concat(backwards)), `point ${seq}, backwards`).toBe(sha256(image));
        for (let i = 0; i < 200; i++) {
          const length = 1 + Math.floor(rand() * (rand() < 0.5 ? 600 * KiB : 8 * KiB));
          const at = Math.floor(rand() * (size - length));
          expect(read(at, length).equals(image.subarray(at, at + length)), `point ${seq}, ${length} bytes at ${at}`).toBe(true);
        }
      }
    } finally {
      app.close();
    }
  });
});
