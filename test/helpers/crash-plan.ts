import { prng } from './history.js';

/**
 * The batches of the crash test, as a pure function of their label: the crash-writer child
 * commits them, and the parent regenerates any committed batch from the label its point
 * carries — so every point can be checked, acknowledged or not.
 */

const KiB = 1024;

/** The disks the crash test protects (small, so a shadow of each stays cheap). */
export const crashDisks = [
  { name: 'd0', size: 2048 * KiB },
  { name: 'd1', size: 1024 * KiB },
  { name: 'd2', size: 512 * KiB },
];

/** The end of each disk holds the batch markers; random writes stay below it. */
export const MARKER_AREA = 64 * KiB;
export const MARKER_SLOTS = 4;
export const MARKER_SIZE = 32;

export interface PlannedWrite {
  offset: number;
  length: number;
  /** Written with writeZeroes (no payload), else `data`. */
  zero: boolean;
  data: Buffer;
}

export function markerOffset(diskSize: number, slot: number): number {
  return diskSize - MARKER_AREA + slot * (MARKER_AREA / MARKER_SLOTS);
}

/** What every marker slot holds after the batch `label` is visible. */
export function markerBytes(label: string): Buffer {
  return Buffer.from(label.padEnd(MARKER_SIZE, '#').slice(0, MARKER_SIZE), 'latin1');
}

function seedOf(label: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * 0–46 random writes (mostly small, a few up to 200 KB and so several records) with the
 * four markers spread among them: first, a third in, two thirds in, last.
 */
export function planBatch(label: string, diskSize: number): PlannedWrite[] {
  const rand = prng(seedOf(label));
  const region = diskSize - MARKER_AREA;
  const count = Math.floor(rand() * 47);
  const writes: PlannedWrite[] = [];
  for (let i = 0; i < count; i++) {
    const u = rand();
    const max = u < 0.75 ? 4 * KiB : u < 0.97 ? 32 * KiB : 200_000;
    const length = 1 + Math.floor(rand() * max);
    const offset = Math.floor(rand() * (region - length));
    const zero = rand() < 0.08;
    writes.push({ offset, length, zero, data: zero ? Buffer.alloc(0) : dataFor(rand, length) });
  }
  const marker = markerBytes(label);
  const at = [0, Math.floor(count / 3) + 1, Math.floor((2 * count) / 3) + 2, count + 3];
  for (let slot = 0; slot < MARKER_SLOTS; slot++) {
    writes.splice(at[slot]!, 0, { offset: markerOffset(diskSize, slot), length: MARKER_SIZE, zero: false, data: marker });
  }
  return writes;
}

/** Random (incompressible), text-like (compressible) or all-zero bytes, as disks hold them. */
function dataFor(rand: () => number, length: number): Buffer {
  const kind = rand();
  const b = Buffer.alloc(length);
  if (kind < 0.45) {
    for (let i = 0; i + 4 <= length; i += 4) b.writeUInt32LE((rand() * 2 ** 32) >>> 0, i);
    for (let i = length - (length % 4); i < length; i++) b[i] = (rand() * 256) | 0;
  } else if (kind < 0.9) {
    const word = Buffer.from(`chronodisk ${Math.floor(rand() * 1000)} crash line `);
    for (let i = 0; i < length; i++) b[i] = word[i % word.length]!;
  }
  return b;
}

/** Applies a planned batch to a shadow copy of the disk. */
export function applyToShadow(shadow: Buffer, writes: PlannedWrite[]): void {
  for (const w of writes) {
    if (w.zero) shadow.fill(0, w.offset, w.offset + w.length);
    else w.data.copy(shadow, w.offset);
  }
}
