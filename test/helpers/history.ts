import { prng } from './prng.js';
import { createHash } from 'node:crypto';
import type { Appliance } from '../../electron/engine/appliance.js';
import type { CaptureBatch } from '../../electron/engine/capture-batch.js';
import type { DiskRecord } from '../../electron/engine/store/catalog-state.js';
import type { TimeImage } from '../../electron/engine/time-image.js';

export { prng } from './prng.js';

/** Bytes of three kinds, as disks hold them: random, text-like (compressible) and zeros. */
export function makeData(rand: () => number, length: number): Buffer {
  const kind = rand();
  const b = Buffer.alloc(length);
  if (kind < 0.4 && length < 4) {
    // Too short for a 32-bit word (writeUInt32LE would throw RangeError).
    for (let i = 0; i < length; i++) b[i] = (rand() * 256) | 0;
  } else if (kind < 0.4) {
    for (let i = 0; i < length; i += 4) b.writeUInt32LE((rand() * 2 ** 32) >>> 0, i < length - 3 ? i : length - 4);
  } else if (kind < 0.85) {
    const word = Buffer.from(`chronodisk ${Math.floor(rand() * 1000)} line of text `);
    for (let i = 0; i < length; i++) b[i] = word[i % word.length]!;
  }
  return b;
}

/** Writes `length` random bytes (5% of the time: zeros) at `offset`, and mirrors them in `shadow`. */
export function writeRandom(batch: CaptureBatch, shadow: Buffer, rand: () => number, offset: number, length: number): void {
  if (rand() < 0.05) {
    batch.writeZeroes(offset, length);
    shadow.fill(0, offset, offset + length);
  } else {
    const data = makeData(rand, length);
    batch.write(offset, data);
    data.copy(shadow, offset);
  }
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** sha256 of a disk's image at a point, read in 4 MiB pieces. */
export function imageHash(app: Appliance, disk: DiskRecord, seq: number): string {
  return imageHashOf(app.image(disk, seq));
}

/** sha256 of every byte of `img`, read in 4 MiB pieces. */
export function imageHashOf(img: TimeImage): string {
  const h = createHash('sha256');
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let at = 0; at < img.size; at += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, img.size - at));
    img.readInto(part, at);
    h.update(part);
  }
  return h.digest('hex');
}

export interface Shadowed {
  seq: number;
  hash: string;
}

/**
 * Writes a random history onto `disk` and mirrors it in a shadow buffer; returns the hash
 * of the shadow at every `keepEvery`-th point (and the last).
 */
export async function randomHistory(
  app: Appliance,
  disk: DiskRecord,
  options: { seed: number; writes: number; maxLength: number; keepEvery: number },
): Promise<Shadowed[]> {
  const rand = prng(options.seed);
  const shadow = Buffer.alloc(disk.size);
  const kept: Shadowed[] = [];
  let done = 0;
  let batches = 0;
  while (done < options.writes) {
    const batch = app.beginBatch(disk);
    const n = 1 + Math.floor(rand() * 60);
    for (let i = 0; i < n && done < options.writes; i++, done++) {
      // 90% of writes land on the first 10% of the disk: a hot region, rewritten often.
      const hot = rand() < 0.9;
      const length = 1 + Math.floor(rand() * options.maxLength);
      const span = hot ? Math.floor(disk.size / 10) : disk.size;
      const offset = Math.floor(rand() * (span - length));
      writeRandom(batch, shadow, rand, offset, length);
    }
    const p = await batch.commit();
    batches++;
    if (batches % options.keepEvery === 0 || done >= options.writes) kept.push({ seq: p.seq, hash: sha256(shadow) });
  }
  return kept;
}
