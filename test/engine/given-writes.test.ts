import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { checkAppliance } from '../../electron/engine/check.js';
import { looksIncompressible } from '../../electron/engine/format/incompressible.js';
import { IndexDb } from '../../electron/engine/index/index-db.js';
import { imageHash, prng, sha256 } from '../helpers/history.js';

/**
 * Given writes (split capture's NBD payloads): what looks incompressible becomes a raw
 * record made on the writer's thread and written from the caller's buffers, the rest goes
 * through the encoder threads — interleaved, pipelined commits must still read back
 * exactly, pass check --read-data and survive an index rebuild.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-given-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Words with numbers: ~4.3 bits per byte, zstd shrinks it ~2.5×. */
function text(rand: () => number, length: number): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'disk', 'point', 'segment', 'record', 'the', 'of', 'and'];
  let s = '';
  while (s.length < length) s += rand() < 0.1 ? `${Math.floor(rand() * 1e5)} ` : `${words[Math.floor(rand() * words.length)]} `;
  return Buffer.from(s.slice(0, length));
}

describe('the incompressibility probe', () => {
  it('calls random bytes incompressible, and text, code, zeros, skewed bytes and short buffers not', () => {
    for (const n of [600, 4 * KiB, 65536, 65508]) expect(looksIncompressible(randomBytes(n)), `random ${n}`).toBe(true);
    const rand = prng(3);
    expect(looksIncompressible(text(rand, 65536))).toBe(false);
    expect(looksIncompressible(readFileSync(new URL(import.meta.url)))).toBe(false);
    expect(looksIncompressible(Buffer.alloc(65536))).toBe(false);
    expect(looksIncompressible(randomBytes(400))).toBe(false); // too short to judge
    // 160 equally likely byte values: 7.3 bits per byte, below the threshold.
    const skewed = Buffer.from(randomBytes(65536).map((b) => b % 160));
    expect(looksIncompressible(skewed)).toBe(false);
  });
});

describe.each([
  { name: 'plain', passphrase: undefined },
  { name: 'encrypted', passphrase: 'given writes passphrase' },
])('given writes ($name)', ({ name, passphrase }) => {
  it('read back exactly when random, text, zero and tiny pieces interleave over pipelined commits', async () => {
    const dir = join(root, name);
    await Appliance.init(dir, { passphrase });
    let app = await Appliance.open(dir, { writable: true, passphrase, segmentTargetSize: 4 * MiB });
    const d = app.addDisk({ name: 'vm', source: '/dev/null', size: 32 * MiB, mode: 'split', blockSize: 65536, identity: {} });
    const shadow = Buffer.alloc(d.size);
    const rand = prng(17);
    const kept: Array<{ seq: number; hash: string }> = [];
    let randomBytesGiven = 0;
    let textBytesGiven = 0;
    for (let round = 0; round < 8; round++) {
      // 24 writes in flight at once, each its own batch (as split's pipelined requests are).
      const commits = [];
      for (let w = 0; w < 24; w++) {
        const batch = app.beginBatch(d);
        let offset = Math.floor(rand() * (d.size - 2 * MiB));
        // A write arrives in socket-sized pieces: an odd first one, 64 KiB ones, a short tail.
        const sizes = [65508, 65536, 65536, 28 + Math.floor(rand() * 3000)];
        for (const size of sizes) {
          const kind = rand();
          const piece = kind < 0.5 ? randomBytes(size) : kind < 0.8 ? text(rand, size) : Buffer.alloc(size);
          if (kind < 0.5) randomBytesGiven += size;
          else if (kind < 0.8) textBytesGiven += size;
          piece.copy(shadow, offset);
          batch.give(offset, piece);
          offset += size;
        }
        commits.push(batch.commit());
        if (w % 8 === 7) kept.push({ seq: (await commits[commits.length - 1]!).seq, hash: sha256(shadow) });
      }
      await Promise.all(commits);
      // A batch of copied writes between them: inline and encoder runs alternate.
      const batch = app.beginBatch(d);
      const bulk = text(rand, 3 * MiB);
      const at = Math.floor(rand() * (d.size - bulk.length));
      bulk.copy(shadow, at);
      batch.write(at, bulk);
      kept.push({ seq: (await batch.commit()).seq, hash: sha256(shadow) });
    }
    const verify = (x: Appliance) => {
      for (const k of kept) expect(imageHash(x, d, k.seq), `point ${k.seq}`).toBe(k.hash);
    };
    verify(app);
    // Random pieces stored raw, text compressed, zeros without payload.
    expect(app.bytesAppended).toBeGreaterThan(randomBytesGiven);
    expect(app.bytesAppended).toBeLessThan(randomBytesGiven * 1.02 + textBytesGiven * 0.7 + 8 * 3 * MiB * 0.7);
    app.close();
    IndexDb.remove(dir);
    app = await Appliance.open(dir, { passphrase });
    verify(app);
    expect(checkAppliance(app, { readData: true }).problems).toEqual([]);
    app.close();
  });
});
