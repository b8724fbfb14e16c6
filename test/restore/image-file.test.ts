/**
 * writeImageFile (what `chronodisk image` runs): the image file equals the disk at the point
 * byte for byte, with holes where whole chunks are zeros — with whole chunks written through
 * O_DIRECT (the default) and with buffered writes only; in both, the last chunk, which is not
 * a multiple of 4 KiB, goes through the buffered descriptor.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Appliance } from '../../electron/engine/appliance.js';
import { writeImageFile } from '../../electron/engine/restore/image-file.js';
import type { DiskRecord } from '../../electron/engine/store/catalog-state.js';

const MiB = 1024 * 1024;
const size = 13 * MiB + 512; // the last 4 MiB chunk ends 512 bytes into a 4 KiB block

describe('writeImageFile', () => {
  const root = mkdtempSync(join(tmpdir(), 'chronodisk-image-file-'));
  let app: Appliance;
  let disk: DiskRecord;
  let seq = 0;
  const shadow = Buffer.alloc(size);

  beforeAll(async () => {
    await Appliance.init(join(root, 'app'));
    app = await Appliance.open(join(root, 'app'), { writable: true });
    disk = app.addDisk({ name: 'd', source: '/dev/null', size, mode: 'scan', blockSize: 65536, identity: {} });
    // Data in chunks 0, 1 and 3 (chunk 2, bytes [8, 12) MiB, stays zero: a hole), an
    // overwrite across the chunk 0/1 boundary, and bytes in the 512-byte tail.
    const b = app.beginBatch(disk);
    for (const [at, length] of [[0, 8 * MiB], [12 * MiB, MiB + 512]] as const) {
      const data = randomBytes(length);
      b.write(at, data);
      data.copy(shadow, at);
    }
    await b.commit();
    const over = randomBytes(300_000);
    const b2 = app.beginBatch(disk);
    b2.write(4 * MiB - 100_000, over);
    over.copy(shadow, 4 * MiB - 100_000);
    seq = (await b2.commit()).seq;
  });
  afterAll(() => {
    app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  for (const direct of [true, false]) {
    it(`writes the disk at the point exactly, with holes for zero chunks (${direct ? 'O_DIRECT' : 'buffered'})`, async () => {
      const out = join(root, `out-${direct}.img`);
      const fd = openSync(out, 'w', 0o600);
      const seen: number[] = [];
      try {
        await writeImageFile(app.image(disk, seq), out, fd, { direct, onProgress: (done) => seen.push(done) });
      } finally {
        closeSync(fd);
      }
      expect(statSync(out).size).toBe(size);
      expect(readFileSync(out).equals(shadow)).toBe(true);
      // The zero chunk was never written: at least its 4 MiB are a hole.
      expect(statSync(out).blocks * 512).toBeLessThanOrEqual(size - 4 * MiB + 4096);
      expect(seen.at(-1)).toBe(size);
    });
  }
});
