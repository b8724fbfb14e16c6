import { xxh64 } from '@node-rs/xxhash';

/** Where changed blocks go: a capture batch. */
export interface ChangeSink {
  write(offset: number, data: Buffer): void;
  writeZeroes(offset: number, length: number): void;
}

/**
 * The hash a scan pass compares blocks by: xxh64. Measured on the development VM over
 * 64 KiB blocks (one core): xxh64 13 GB/s, xxh32 7.8, xxh3-64 2.2, sha1 1.4, md5 0.7 GB/s.
 * It only has to notice a change (no adversary chooses the blocks of one's own disk), and
 * at 2^-64 per block a missed change is far less likely than a disk error.
 */
export function blockHash(block: Uint8Array): bigint {
  return xxh64(block);
}

/**
 * Finds the blocks of a source that differ from a previous pass and hands them to a sink
 * in as few calls as possible: contiguous changed blocks as one write, and all-zero blocks
 * (a memcmp, before any hashing) as zero ranges that carry no
 * payload at all. A zero range may continue into the next chunk, so call finish() before
 * the sink is committed or written to by anyone else.
 */
export class ChangedBlocks {
  private readonly zero: Buffer;
  private readonly zeroHash: bigint;
  /** A run of changed zero blocks not yet handed over: [start, end). */
  private zeroRun: { start: number; end: number } | undefined;

  constructor(
    readonly blockSize: number,
    private readonly sink: ChangeSink,
  ) {
    this.zero = Buffer.alloc(blockSize);
    this.zeroHash = blockHash(this.zero);
  }

  /**
   * Hashes every block of `buf` (the source's bytes at `at`, block-aligned) into `into`;
   * the blocks whose hash differs from `against` go to the sink. Without `against` (a
   * disk's first pass) every block that is not all zeros goes: a disk with no point yet
   * reads as zeros (docs/FORMAT.md: an image starts from zeros), so its zero blocks need
   * no record at all. `into` and `against` may be the same array. Returns the bytes that
   * changed.
   */
  absorb(at: number, buf: Buffer, into: BigUint64Array, against: BigUint64Array | undefined): number {
    const bs = this.blockSize;
    let changed = 0;
    let dataStart = -1; // start, within buf, of a run of changed data blocks
    for (let off = 0; off < buf.length; off += bs) {
      const len = Math.min(bs, buf.length - off);
      const i = (at + off) / bs;
      const block = buf.subarray(off, off + len);
      // equals() is a memcmp (20 GB/s on zeros, measured; ranged compare() was 12 GB/s).
      const isZero = block.equals(len === bs ? this.zero : this.zero.subarray(0, len));
      const h = isZero ? (len === bs ? this.zeroHash : blockHash(this.zero.subarray(0, len))) : blockHash(block);
      const differs = against === undefined ? !isZero : against[i] !== h;
      into[i] = h;
      if (dataStart >= 0 && (!differs || isZero)) {
        this.sink.write(at + dataStart, buf.subarray(dataStart, off));
        dataStart = -1;
      }
      if (!differs) {
        this.endZeroRun();
        continue;
      }
      changed += len;
      if (isZero) this.extendZeroRun(at + off, len);
      else {
        this.endZeroRun();
        if (dataStart < 0) dataStart = off;
      }
    }
    // The caller reuses buf: a data run cannot wait for the next chunk.
    if (dataStart >= 0) this.sink.write(at + dataStart, buf.subarray(dataStart));
    return changed;
  }

  /** Hands over the zero run still open. */
  finish(): void {
    this.endZeroRun();
  }

  private extendZeroRun(offset: number, length: number): void {
    if (this.zeroRun && this.zeroRun.end === offset) this.zeroRun.end += length;
    else {
      this.endZeroRun();
      this.zeroRun = { start: offset, end: offset + length };
    }
  }

  private endZeroRun(): void {
    if (!this.zeroRun) return;
    this.sink.writeZeroes(this.zeroRun.start, this.zeroRun.end - this.zeroRun.start);
    this.zeroRun = undefined;
  }
}
