import type { BlockSource } from './block-source.js';
import type { IndexDb } from './index/index-db.js';
import type { Piece } from './index/time-map.js';
import type { RecordReader, RecordSlice } from './store/record-reader.js';
import type { DiskRecord } from './store/catalog-state.js';

/** The time map is asked about aligned windows of this size… */
const WINDOW = 1024 * 1024;
/**
 * …and the last few answers are reused for a moment: a lookup costs about as much for
 * 1 MiB as for 256 KiB (one seek per tree level), and an export reads a window in several
 * requests. The pieces of a point never change, but thinning may move them to new
 * segments, so an answer is not kept long.
 */
const WINDOWS_KEPT = 16;
const WINDOW_TTL_MS = 1000;

/**
 * A disk as it was at a point: a read-only virtual disk. read() asks the time map which
 * pieces of which records hold each byte and copies them out; bytes never written read
 * as zeros. Everything else (file browsing, exports, restore) reads through this.
 */
export class TimeImage implements BlockSource {
  readonly size: number;
  private windows = new Map<number, { pieces: Piece[]; at: number }>();

  constructor(
    readonly disk: DiskRecord,
    readonly seq: number,
    private readonly index: IndexDb,
    private readonly records: RecordReader,
  ) {
    this.size = disk.size;
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
    const slices: RecordSlice[] = [];
    for (let w = offset - (offset % WINDOW); w < offset + length; w += WINDOW) {
      const at = Math.max(w, offset);
      const end = Math.min(offset + length, w + WINDOW);
      for (const p of this.piecesOf(w)) {
        if (p.segment < 0) continue; // zeros: filled below with the gaps
        const s = Math.max(p.start, at);
        const e = Math.min(p.end, end);
        if (s >= e) continue;
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
    // All at once: the records behind the whole range are read in runs, not one by one.
    this.records.readSlices(slices);
  }

  /** The pieces of window [w, w + WINDOW), from the time map or a recent answer. */
  private piecesOf(w: number): Piece[] {
    const now = performance.now();
    const kept = this.windows.get(w);
    this.windows.delete(w);
    if (kept && now - kept.at < WINDOW_TTL_MS) {
      this.windows.set(w, kept);
      return kept.pieces;
    }
    const pieces = this.index.lookup(this.disk.id, this.seq, w, Math.min(this.size, w + WINDOW));
    this.windows.set(w, { pieces, at: now });
    if (this.windows.size > WINDOWS_KEPT) this.windows.delete(this.windows.keys().next().value!);
    return pieces;
  }
}
