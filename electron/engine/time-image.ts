import type { BlockSource } from './block-source.js';
import type { IndexDb } from './index/index-db.js';
import type { RecordReader, RecordSlice } from './store/record-reader.js';
import type { DiskRecord } from './store/catalog-state.js';
import { ChronodiskError } from './errors.js';

const LOOKUP_SPAN = 1024 * 1024;

/**
 * A disk as it was at a point: a read-only virtual disk. read() asks the time map which
 * pieces of which records hold each byte and copies them out; bytes never written read
 * as zeros. Everything else (file browsing, exports, restore) reads through this.
 */
export class TimeImage implements BlockSource {
  readonly size: number;
  /** The index generation (thinnings so far) this image last found its point in. */
  private generation: unknown;
  private readonly plan: (out: Buffer, offset: number) => RecordSlice[];

  constructor(
    readonly disk: DiskRecord,
    readonly seq: number,
    private readonly index: IndexDb,
    private readonly records: RecordReader,
  ) {
    this.size = disk.size;
    this.generation = index.meta('generation');
    // One read snapshot for the point check and the lookups: a thinning committed by the
    // writer in between cannot slip under a read.
    this.plan = index.db.transaction((out: Buffer, offset: number) => {
      this.checkPoint();
      return this.slicesOf(out, offset);
    });
  }

  async read(offset: number, length: number): Promise<Buffer> {
    return this.readSync(offset, length);
  }

  readSync(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    this.readInto(out, offset);
    return out;
  }

  /** Fills `out` with the bytes at `offset`; the hot path of exports and restores. */
  readInto(out: Buffer, offset: number): void {
    const length = out.length;
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`read of ${length} bytes at ${offset} is outside ${this.disk.name} (${this.size} bytes)`);
    }
    const slices = this.plan(out, offset);
    const planned = this.generation;
    try {
      this.records.readSlices(slices);
    } catch (e) {
      // A thinning that committed after the lookups deletes the files they named: look
      // the pieces up again in the new index (once; a second failure is real).
      if (this.index.meta('generation') === planned) throw e;
      this.records.readSlices(this.plan(out, offset));
    }
  }

  /**
   * Thinning (retention) may have removed this point since the image was made: its bytes
   * would then be a mix of the points around it. Say so instead.
   */
  private checkPoint(): void {
    const generation = this.index.meta('generation');
    if (generation === this.generation) return;
    if (!this.index.hasCommit(this.seq)) {
      throw new ChronodiskError('not-found', `point ${this.seq} of ${this.disk.name} was removed by thinning (the retention policy) while in use; open a point that is still on the timeline`);
    }
    this.generation = generation;
  }

  /** The pieces of records that hold `out`'s bytes; gaps between them are zeroed here. */
  private slicesOf(out: Buffer, offset: number): RecordSlice[] {
    const length = out.length;
    const slices: RecordSlice[] = [];
    for (let at = offset; at < offset + length; at += LOOKUP_SPAN) {
      const end = Math.min(offset + length, at + LOOKUP_SPAN);
      for (const p of this.index.lookup(this.disk.id, this.seq, at, end)) {
        if (p.segment < 0) continue; // zeros: filled below with the gaps
        const s = Math.max(p.start, at);
        const e = Math.min(p.end, end);
        slices.push({ segment: p.segment, offset: p.rec_offset, from: p.data_off + (s - p.start), into: out.subarray(s - offset, e - offset) });
      }
    }
    // Zeros only where no record lands (pieces never overlap): an export would otherwise
    // write every byte twice.
    let zeroFrom = 0;
    for (const s of [...slices].sort((a, b) => a.into.byteOffset - b.into.byteOffset)) {
      const at = s.into.byteOffset - out.byteOffset;
      if (at > zeroFrom) out.fill(0, zeroFrom, at);
      zeroFrom = at + s.into.length;
    }
    if (zeroFrom < length) out.fill(0, zeroFrom, length);
    // The caller reads them all at once: the records behind the whole range in runs.
    return slices;
  }
}
