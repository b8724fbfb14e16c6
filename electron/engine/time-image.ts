import type { BlockSource } from './block-source.js';
import type { IndexDb } from './index/index-db.js';
import type { Piece } from './index/time-map.js';
import type { RecordReader, RecordSlice } from './store/record-reader.js';
import type { DiskRecord } from './store/catalog-state.js';
import { ChronodiskError } from './errors.js';

/** The time map is asked about aligned windows of this size… */
const WINDOW = 1024 * 1024;
/**
 * …and the last few answers are kept: a lookup costs about as much for 1 MiB as for
 * 256 KiB (one seek per tree level), and an export reads a window in several requests.
 * The pieces of a point never change until a thinning moves them to new segments (a new
 * index generation), which empties the cache.
 */
const WINDOWS_KEPT = 16;
/**
 * A reader that moves on to the window after one it holds (an export, a restore, nbdcopy)
 * gets this many windows in one lookup: the statement's fixed cost was ~9% of a serving
 * process's busy CPU at one lookup per 1 MiB (cpu-prof), and a longer range costs little
 * more. Random readers never hold the window before, so they still ask for one.
 */
const WINDOWS_AHEAD = 4;
/**
 * Smaller reads look up just their own bytes and keep nothing: a random 4 KiB read in a
 * deep history would otherwise pay for the hundreds of pieces of a whole window (p99 at
 * 1M writes went from 0.19 to 0.86 ms when every read took the window).
 */
const WINDOW_READ_MIN = WINDOW / 4;
/**
 * Reads from kept answers ask the index for its generation at most this often (the query
 * cost more than the rest of planning a 256 KiB read). That never lets a read return
 * other bytes: kept answers name records in segment files that never change, a thinning
 * deletes the files it retired only after its new index has committed, and a read of a
 * file already gone fails and is planned again in the new index (readInto). What the
 * interval bounds is how long an image of a point the thinning removed keeps reading that
 * point's own bytes, from files still open, before it says so.
 */
const GENERATION_RECHECK_MS = 50;

/**
 * A disk as it was at a point: a read-only virtual disk. read() asks the time map which
 * pieces of which records hold each byte and copies them out; bytes never written read
 * as zeros. Everything else (file browsing, exports, restore) reads through this.
 */
export class TimeImage implements BlockSource {
  readonly size: number;
  /** The index generation (thinnings so far) this image last found its point in. */
  private generation: unknown;
  /** When (performance.now()) the generation was last compared with the index's. */
  private checkedAt = -Infinity;
  /** Recent time-map answers, by window start, oldest first; valid within one generation. */
  private windows = new Map<number, Piece[]>();
  /** The window piecesOf used last (the map's last entry, when kept). */
  private newestWindow = -1;
  private readonly planInSnapshot: (out: Buffer, offset: number) => RecordSlice[];

  constructor(
    readonly disk: DiskRecord,
    readonly seq: number,
    private readonly index: IndexDb,
    private readonly records: RecordReader,
  ) {
    this.size = disk.size;
    this.generation = index.meta('generation');
    // One read snapshot for the generation check and the lookups: a thinning committed by
    // the writer in between cannot slip under a read.
    this.planInSnapshot = index.db.transaction((out: Buffer, offset: number) => {
      this.syncGeneration();
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

  /** The same as readInto (which is synchronous here): what the NBD export looks for. */
  readIntoSync(out: Buffer, offset: number): void {
    this.readInto(out, offset);
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
      if (this.index.meta('generation') === planned) {
        // Answers that led to a failed read are not kept: an index that disagreed with the
        // segments may be rebuilt meanwhile (in place: same generation), and the next read
        // must ask it again.
        this.windows.clear();
        this.newestWindow = -1;
        throw e;
      }
      this.records.readSlices(this.plan(out, offset));
    }
  }

  /** The slices of records behind `out`: from kept answers when it can, else in one snapshot. */
  private plan(out: Buffer, offset: number): RecordSlice[] {
    const kept = () => {
      for (let w = offset - (offset % WINDOW); w < offset + out.length; w += WINDOW) if (!this.windows.has(w)) return false;
      return true;
    };
    // syncGeneration() empties the windows after a thinning: then the lookups below.
    if (kept()) {
      if (performance.now() - this.checkedAt < GENERATION_RECHECK_MS) return this.slicesOf(out, offset);
      this.syncGeneration();
      if (kept()) return this.slicesOf(out, offset);
    }
    // Each lookup checks the generation in its own snapshot (one statement); only after a
    // thinning is the read planned again in one snapshot with the generation brought up to date.
    try {
      return this.slicesOf(out, offset);
    } catch (e) {
      if (e !== STALE) throw e;
      return this.planInSnapshot(out, offset);
    }
  }

  /** The time map's pieces of [start, end), in position order, asked in this image's generation. */
  private lookup(start: number, end: number): Piece[] {
    const pieces = this.index.timeMap.lookupInGeneration(this.disk.id, this.seq, start, end, this.generation);
    if (!pieces) throw STALE;
    this.checkedAt = performance.now();
    return byStart(pieces);
  }

  /** Pieces of [at, end) within window w: a kept answer, the whole window, or just the range. */
  private piecesIn(w: number, at: number, end: number): Piece[] {
    if (this.windows.has(w) || end - at >= WINDOW_READ_MIN) return this.piecesOf(w);
    return this.lookup(at, end);
  }

  /**
   * After a thinning (a new index generation) the kept answers name retired segments, and
   * this point may be gone: its bytes would then be a mix of the points around it. Say so.
   */
  private syncGeneration(): void {
    const generation = this.index.meta('generation');
    this.checkedAt = performance.now();
    if (generation === this.generation) return;
    this.windows.clear();
    if (!this.index.hasCommit(this.seq)) {
      throw new ChronodiskError('not-found', `point ${this.seq} of ${this.disk.name} was removed by thinning (the retention policy) while in use; open a point that is still on the timeline`);
    }
    this.generation = generation;
  }

  /** The pieces of records that hold `out`'s bytes, in disk order; gaps between them are zeroed here. */
  private slicesOf(out: Buffer, offset: number): RecordSlice[] {
    const length = out.length;
    const slices: RecordSlice[] = [];
    // Zeros only where no record lands (pieces never overlap): an export would otherwise
    // write every byte twice.
    let zeroFrom = 0;
    for (let w = offset - (offset % WINDOW); w < offset + length; w += WINDOW) {
      const at = Math.max(w, offset);
      const end = Math.min(offset + length, w + WINDOW);
      const pieces = this.piecesIn(w, at, end);
      for (let i = firstEndingAfter(pieces, at); i < pieces.length; i++) {
        const p = pieces[i]!;
        if (p.start >= end) break;
        if (p.segment < 0) continue; // zeros: filled with the gaps
        const s = Math.max(p.start, at) - offset;
        const e = Math.min(p.end, end) - offset;
        if (s > zeroFrom) out.fill(0, zeroFrom, s);
        zeroFrom = e;
        slices.push({ segment: p.segment, offset: p.rec_offset, from: p.data_off + (s + offset - p.start), into: out.subarray(s, e) });
      }
    }
    if (zeroFrom < length) out.fill(0, zeroFrom, length);
    // The caller reads them all at once: the records behind the whole range in runs.
    return slices;
  }

  /** The pieces of window [w, w + WINDOW), from the time map or a kept answer. */
  private piecesOf(w: number): Piece[] {
    let pieces = this.windows.get(w);
    if (pieces && w === this.newestWindow) return pieces; // already the most recent
    this.newestWindow = w;
    if (!pieces && this.windows.has(w - WINDOW)) {
      // Sequential: the windows ahead share one answer (slicesOf finds each one's pieces in it).
      const end = Math.min(this.size, w + WINDOWS_AHEAD * WINDOW);
      pieces = this.lookup(w, end);
      for (let ahead = end - (end % WINDOW || WINDOW); ahead > w; ahead -= WINDOW) this.keep(ahead, pieces);
    }
    pieces ??= this.lookup(w, Math.min(this.size, w + WINDOW));
    this.keep(w, pieces);
    return pieces;
  }

  /** Keeps a window's answer as the most recent, forgetting the oldest beyond WINDOWS_KEPT. */
  private keep(w: number, pieces: Piece[]): void {
    this.windows.delete(w); // re-inserted: most recent last
    this.windows.set(w, pieces);
    if (this.windows.size > WINDOWS_KEPT) this.windows.delete(this.windows.keys().next().value!);
  }
}

/** Thrown by a lookup that found the index in another generation than the image's. */
const STALE = Symbol('stale index generation');

/** Sorts pieces (which never overlap) by position, in place. */
function byStart(pieces: Piece[]): Piece[] {
  return pieces.sort((a, b) => a.start - b.start);
}

/** The index of the first of `pieces` (by position, not overlapping) that ends after `at`. */
function firstEndingAfter(pieces: Piece[], at: number): number {
  let lo = 0;
  let hi = pieces.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pieces[mid]!.end <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
