import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { blockHash, ChangedBlocks, type ChangeSink } from '../../electron/engine/capture/changed-blocks.js';
import { protectSource } from '../../electron/engine/capture/protect.js';
import { scanPass } from '../../electron/engine/capture/scan-pass.js';
import { SourceReader } from '../../electron/engine/capture/source-reader.js';
import { prng } from '../helpers/prng.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-scan-blocks-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A sink that applies what it is given to a shadow disk and keeps the calls. */
class ShadowSink implements ChangeSink {
  calls: Array<{ kind: 'data' | 'zero'; offset: number; length: number }> = [];
  constructor(readonly disk: Buffer) {}
  write(offset: number, data: Buffer): void {
    this.calls.push({ kind: 'data', offset, length: data.length });
    data.copy(this.disk, offset);
  }
  writeZeroes(offset: number, length: number): void {
    this.calls.push({ kind: 'zero', offset, length });
    this.disk.fill(0, offset, offset + length);
  }
}

/** Blocks of 4 KiB: data (d), zero (z), by a pattern string. */
function sourceOf(pattern: string, seed: number): Buffer {
  const rand = prng(seed);
  const b = Buffer.alloc(pattern.length * 4 * KiB);
  for (const [i, c] of [...pattern].entries()) if (c === 'd') for (let j = 0; j < 4 * KiB; j++) b[i * 4 * KiB + j] = Math.floor(rand() * 256);
  return b;
}

/** Feeds `src` to `changes` in chunks of `chunk` bytes, reusing one buffer as a reader does. */
function feed(changes: ChangedBlocks, src: Buffer, chunk: number, into: BigUint64Array, against?: BigUint64Array): number {
  const buf = Buffer.alloc(chunk);
  let changed = 0;
  for (let at = 0; at < src.length; at += chunk) {
    const part = buf.subarray(0, Math.min(chunk, src.length - at));
    src.copy(part, 0, at, at + part.length);
    changed += changes.absorb(at, part, into, against);
    buf.fill(0xa5); // a reader reuses the buffer: nothing handed over may still point into it
  }
  changes.finish();
  return changed;
}

describe('ChangedBlocks', () => {
  it('hands a first pass over as contiguous data writes and leaves zero blocks out (a new disk reads as zeros)', () => {
    const src = sourceOf('ddzzzzzzddzd', 1);
    const sink = new ShadowSink(Buffer.alloc(src.length)); // what an image with no point reads
    const hashes = new BigUint64Array(12);
    const changed = feed(new ChangedBlocks(4 * KiB, sink), src, 16 * KiB, hashes);
    expect(changed).toBe(5 * 4 * KiB);
    expect(sink.disk.equals(src)).toBe(true);
    expect(sink.calls).toEqual([
      { kind: 'data', offset: 0, length: 8 * KiB },
      { kind: 'data', offset: 32 * KiB, length: 8 * KiB },
      { kind: 'data', offset: 44 * KiB, length: 4 * KiB },
    ]);
    for (let i = 0; i < 12; i++) expect(hashes[i]).toBe(blockHash(src.subarray(i * 4 * KiB, (i + 1) * 4 * KiB)));
  });

  it('a later pass hands zeroed blocks over as zero runs that span chunks', () => {
    const before = sourceOf('dddddddddd', 6);
    const after = Buffer.from(before);
    after.fill(0, 4 * KiB, 36 * KiB); // blocks 1..8: across the 16 KiB chunks
    const old = new BigUint64Array(10);
    feed(new ChangedBlocks(4 * KiB, new ShadowSink(Buffer.alloc(before.length))), before, 16 * KiB, old);
    const sink = new ShadowSink(Buffer.from(before));
    expect(feed(new ChangedBlocks(4 * KiB, sink), after, 16 * KiB, new BigUint64Array(10), old)).toBe(32 * KiB);
    expect(sink.disk.equals(after)).toBe(true);
    expect(sink.calls).toEqual([{ kind: 'zero', offset: 4 * KiB, length: 32 * KiB }]);
  });

  it('a later pass hands over only the blocks that changed, zero to data and data to zero', () => {
    const before = sourceOf('ddzzddzzdd', 2);
    const after = Buffer.from(before);
    after.fill(0, 0, 4 * KiB); // data → zero
    after.fill(9, 8 * KiB, 12 * KiB); // zero → data
    after[9 * 4 * KiB + 100] ^= 1; // one byte of the last block
    const old = new BigUint64Array(10);
    feed(new ChangedBlocks(4 * KiB, new ShadowSink(Buffer.alloc(before.length))), before, 8 * KiB, old);

    const sink = new ShadowSink(Buffer.from(before));
    const fresh = new BigUint64Array(10);
    const changed = feed(new ChangedBlocks(4 * KiB, sink), after, 8 * KiB, fresh, old);
    expect(changed).toBe(3 * 4 * KiB);
    expect(sink.disk.equals(after)).toBe(true);
    expect(sink.calls).toEqual([
      { kind: 'zero', offset: 0, length: 4 * KiB },
      { kind: 'data', offset: 8 * KiB, length: 4 * KiB },
      { kind: 'data', offset: 36 * KiB, length: 4 * KiB },
    ]);
    // Unchanged again: nothing at all, and comparing an array with itself works (the catch-up).
    const quiet = new ShadowSink(Buffer.from(after));
    expect(feed(new ChangedBlocks(4 * KiB, quiet), after, 8 * KiB, fresh, fresh)).toBe(0);
    expect(quiet.calls).toEqual([]);
  });

  it('handles a short last block, zero or not', () => {
    for (const tail of [0, 1]) {
      const src = Buffer.concat([sourceOf('dz', 3), Buffer.alloc(1000, tail)]);
      const sink = new ShadowSink(Buffer.alloc(src.length));
      const hashes = new BigUint64Array(3);
      expect(feed(new ChangedBlocks(4 * KiB, sink), src, 8 * KiB, hashes)).toBe(4 * KiB + tail * 1000);
      expect(sink.disk.equals(src)).toBe(true);
      expect(hashes[2]).toBe(blockHash(src.subarray(8 * KiB)));
      // And back: the short block turned to zeros (or data) is a change of 1000 bytes.
      const flipped = Buffer.from(src);
      flipped.fill(1 - tail, 8 * KiB);
      const again = new ShadowSink(Buffer.from(src));
      expect(feed(new ChangedBlocks(4 * KiB, again), flipped, 8 * KiB, new BigUint64Array(3), hashes)).toBe(1000);
      expect(again.disk.equals(flipped)).toBe(true);
    }
  });
});

describe('SourceReader', () => {
  const path = join(root, 'source.bin');
  const rand = prng(4);
  // Not a whole number of 4 KiB units: the last O_DIRECT read stops short.
  const src = Buffer.alloc(5 * MiB + 12_345);
  for (let i = 0; i < src.length; i++) src[i] = Math.floor(rand() * 256);

  it.each([{ direct: true }, { direct: false }])('yields every range in order with reads in flight ahead, and stops early cleanly (direct: $direct)', async ({ direct }) => {
    writeFileSync(path, src);
    const reader = await SourceReader.open(path, src.length, { direct });
    // The temp dir is on a disk filesystem here: O_DIRECT is taken when asked for.
    expect(reader.direct).toBe(direct);
    try {
      for (const ahead of [1, 2, 4]) {
        const got: Buffer[] = [];
        let expectAt = 0;
        for await (const [at, buf] of reader.chunks([{ offset: 0, length: src.length }], MiB, ahead)) {
          expect(at).toBe(expectAt);
          got.push(Buffer.from(buf));
          expectAt += buf.length;
        }
        expect(Buffer.concat(got).equals(src), `ahead ${ahead}`).toBe(true);
      }
      const ranges = [
        { offset: 1000, length: 3000 }, // unaligned: read through the page cache
        { offset: 4096, length: 8192 },
        { offset: 3 * MiB, length: 2 * MiB + 12_345 },
      ];
      const parts: Buffer[] = [];
      for await (const [at, buf] of reader.chunks(ranges, 512 * KiB, 3)) parts.push(Buffer.concat([Buffer.from(String(at)), buf]));
      const want = ranges.flatMap((r) => {
        const out: Buffer[] = [];
        for (let at = r.offset; at < r.offset + r.length; at += 512 * KiB) out.push(Buffer.concat([Buffer.from(String(at)), src.subarray(at, Math.min(at + 512 * KiB, r.offset + r.length))]));
        return out;
      });
      expect(Buffer.concat(parts).equals(Buffer.concat(want))).toBe(true);
      // Leaving after the first chunk waits for the reads in flight before the fd may close.
      for await (const [at] of reader.chunks([{ offset: 0, length: src.length }], MiB, 4)) if (at === 0) break;
    } finally {
      await reader.close();
    }
  });

  it.each([{ direct: true }, { direct: false }])('lends shared memory and reads into a lent chunk only once it is released (direct: $direct)', async ({ direct }) => {
    writeFileSync(path, src);
    const reader = await SourceReader.open(path, src.length, { direct });
    // Each chunk stays lent for a while: a reader that reused its memory early would change it.
    const checks: Array<Promise<boolean>> = [];
    let lent: { at: number; buf: Buffer } | undefined;
    const released = () => {
      const { at, buf } = lent!;
      const check = new Promise<boolean>((resolve) => setTimeout(() => resolve(buf.equals(src.subarray(at, at + buf.length))), 30));
      checks.push(check);
      return check.then(() => {});
    };
    try {
      let total = 0;
      for await (const [at, buf] of reader.chunks([{ offset: 0, length: src.length }], 512 * KiB, 2, { released, spare: 2 })) {
        expect(buf.buffer).toBeInstanceOf(SharedArrayBuffer);
        lent = { at, buf };
        total += buf.length;
      }
      expect(total).toBe(src.length);
      expect(checks.length).toBe(Math.ceil(src.length / (512 * KiB)));
      expect(await Promise.all(checks)).toEqual(checks.map(() => true));
    } finally {
      await reader.close();
    }
  });
});

describe('a scan pass over an image file', () => {
  it.each([
    { name: 'plain', passphrase: undefined },
    { name: 'encrypted', passphrase: 'scan blocks' },
  ])('stores zero blocks as zero records and each point reads back as the image was ($name)', async ({ passphrase }) => {
    const dir = join(root, `app-${passphrase ? 'enc' : 'plain'}`);
    const image = join(root, `disk-${passphrase ? 'enc' : 'plain'}.img`);
    // 3 MiB of random data, 5 MiB of zeros, then random again, and a size that is not a
    // whole number of 64 KiB blocks.
    const rand = prng(5);
    const src = Buffer.alloc(10 * MiB + 3000);
    for (let i = 0; i < src.length; i++) if (i < 3 * MiB || i >= 8 * MiB) src[i] = Math.floor(rand() * 256);
    writeFileSync(image, src);
    await Appliance.init(dir, { passphrase });
    const app = await Appliance.open(dir, { writable: true, passphrase });
    try {
      const disk = await protectSource(app, image, { name: 'disk' });
      const first = await scanPass(app, disk, { freeze: false });
      // A new disk reads as zeros: the 5 MiB of zeros need no record at all.
      expect(first.bytesChanged).toBe(src.length - 5 * MiB);
      expect(first.bytesStored).toBeLessThan(5 * MiB + 100 * KiB);
      expect(readPoint(app, disk, first.point.seq).equals(src)).toBe(true);

      const second = Buffer.from(src);
      second.fill(0, 0, 64 * KiB);
      second.fill(1, 4 * MiB, 4 * MiB + 100);
      second[second.length - 1] ^= 0xff;
      writeFileSync(image, second);
      const next = await scanPass(app, disk, { freeze: false });
      expect(next.bytesChanged).toBe(2 * 64 * KiB + (src.length % (64 * KiB)));
      expect(readPoint(app, disk, next.point.seq).equals(second)).toBe(true);
      expect(readPoint(app, disk, first.point.seq).equals(src)).toBe(true);

      const same = await scanPass(app, disk, { freeze: false, commitUnchanged: false });
      expect(same.unchanged).toBe(true);
    } finally {
      app.close();
    }
    expect(readFileSync(image).length).toBe(src.length);
  });
});

describe('a first pass longer than the reader\'s memory, across many segments', () => {
  it.each([
    { name: 'plain', passphrase: undefined },
    { name: 'encrypted', passphrase: 'scan lent' },
  ])('reads back as the image was: lent chunks are reused only after their records are written ($name)', async ({ passphrase }) => {
    const dir = join(root, `lent-${passphrase ? 'enc' : 'plain'}`);
    const image = join(root, `lent-${passphrase ? 'enc' : 'plain'}.img`);
    // 96 MiB (12 reads of 8 MiB, more than the reader holds) in 1 MiB pieces: random
    // (stored raw, written from the read memory when plain), text (zstd) and zeros.
    const rand = prng(8);
    const words = Buffer.from('the quick brown fox jumps over the lazy dog and then some more text ');
    const pieces: Buffer[] = [];
    for (let i = 0; i < 96; i++) {
      const r = rand();
      const piece = Buffer.alloc(MiB);
      if (r < 0.45) for (let j = 0; j < MiB; j += 4) piece.writeUInt32LE(Math.floor(rand() * 2 ** 32), j);
      else if (r < 0.8) for (let j = 0; j < MiB; j += words.length) words.copy(piece, j, 0, Math.min(words.length, MiB - j)), piece.writeUInt32LE(i * MiB + j, j);
      pieces.push(piece);
    }
    const src = Buffer.concat(pieces);
    writeFileSync(image, src);
    await Appliance.init(dir, { passphrase });
    const app = await Appliance.open(dir, { writable: true, passphrase, segmentTargetSize: 4 * MiB });
    try {
      const disk = await protectSource(app, image, { name: 'disk' });
      const first = await scanPass(app, disk, { freeze: false });
      expect(readPoint(app, disk, first.point.seq).equals(src)).toBe(true);
      const segments = readdirSync(join(dir, 'segments')).length;
      expect(segments).toBeGreaterThan(8);
    } finally {
      app.close();
    }
    // Reopened from the files alone, the point still reads back.
    const again = await Appliance.open(dir, { passphrase });
    try {
      const disk = again.disk('disk');
      expect(readPoint(again, disk, again.timeline.latest(disk)!.seq).equals(src)).toBe(true);
    } finally {
      again.close();
    }
  });
});

function readPoint(app: Appliance, disk: ReturnType<Appliance['disk']>, seq: number): Buffer {
  const out = Buffer.alloc(disk.size);
  app.image(disk, seq).readInto(out, 0);
  return out;
}
