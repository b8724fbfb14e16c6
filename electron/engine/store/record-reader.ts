import { readSync, readvSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Xxh64, xxh64 } from '@node-rs/xxhash';
import { RECORD_HEADER_SIZE, RecordFlag, RecordType } from '../format/constants.js';
import { recordHeaderProblem } from '../format/segment-record.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import { ChronodiskError } from '../errors.js';
import { MAX_STORED, type SegmentFiles } from './segment-file.js';
import { DecodePool, MAX_JOBS, MIN_BATCH_BYTES, type DecodeJob } from './decode-pool.js';

/** A piece of one write record that a read wants: logical bytes [from, from + into.length). */
export interface RecordSlice {
  segment: number;
  offset: number;
  from: number;
  into: Buffer;
}

const MAX_RECORD_BYTES = RECORD_HEADER_SIZE + MAX_STORED;
/** Most stored payloads are small (compressed): a record's first pread asks for this much. */
const FIRST_READ = 16 * 1024;
/**
 * Wanted records of one segment closer than this share one pread: the records of a batch
 * are contiguous, so an export reads a run of them at once. Gaps cost at most one record.
 */
const RUN_GAP = MAX_RECORD_BYTES;
const RUN_LIMIT = 8 * 1024 * 1024;
/** Whole records decoded in one batch at most (bounds the worker's output buffer). */
const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/**
 * A record is read straight into its slices when they want at least this much of it (or
 * all of it): a few small reads of one big record are better served by the cache.
 */
const MIN_ROUTED = 8 * 1024;
/** Routed slices per pread at most (the kernel takes at most 1024 iovecs). */
const MAX_ROUTES = 256;

/**
 * Bytes [start, end) of a run (relative to its first record) read straight into a slice's
 * `into`: where the payload of a raw record holding the slice would lie. Verified after
 * the read; when the record turns out compressed or encrypted they are copied back.
 */
interface Route {
  start: number;
  end: number;
  into: Buffer;
}

/** A record read and verified: its stored bytes and header (views of the read buffer). */
interface VerifiedRecord {
  stored: Buffer;
  aad: Buffer;
  flags: number;
  length: number;
  where: () => string;
  /** The logical bytes: into `into` when given, else a buffer of their own. */
  decode: (into?: Buffer) => Buffer;
}

/**
 * Reads the logical bytes of write records, verifying each record's checksum (and GCM tag)
 * on every read from disk. Damage is an error naming the segment, never wrong bytes.
 * Records wanted only in small part stay decoded in a bounded LRU: a run of 4 KiB reads
 * from one 64 KiB record decompresses it once. Records wanted whole or in large part are
 * read and decoded straight into the caller's buffer and not kept (an export reads each
 * once); a raw one is read there by the pread itself and verified in place.
 */
export class RecordReader {
  private cache = new Map<number | string, Buffer>();
  private cacheBytes = 0;
  private scratch: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  private readonly hasher = new Xxh64();
  /** The 56 bytes checksumBeside lends, kept meanwhile. */
  private readonly lent = Buffer.alloc(56);
  /** Started on the first large read; null when it cannot run here. */
  private pool: DecodePool | null | undefined;

  private readonly cacheLimit: number;
  private readonly decodeThread: boolean;

  constructor(
    private readonly files: SegmentFiles,
    private readonly codec: PayloadCodec,
    options: { cacheLimit?: number; decodeThread?: boolean } = {},
  ) {
    this.cacheLimit = options.cacheLimit ?? 64 * 1024 * 1024;
    this.decodeThread = options.decodeThread ?? availableParallelism() > 1;
  }

  /** The logical bytes of the record at (segment, offset). */
  read(segment: number, offset: number): Buffer {
    const hit = this.cached(segment, offset);
    if (hit) return hit;
    let data: Buffer | undefined;
    this.readRun([{ segment, offset, from: 0, into: Buffer.alloc(0) }], (_slices, r) => (data = this.keep(segment, offset, r.decode())));
    return data!;
  }

  /** Fills every slice's `into`; records close together in a segment are read with one pread. */
  readSlices(slices: RecordSlice[]): void {
    const pending: RecordSlice[] = [];
    for (const s of slices) {
      const hit = this.cache.size > 0 ? this.cached(s.segment, s.offset) : undefined;
      if (hit) copySlice(hit, s, () => `segment ${s.segment} at byte ${s.offset}`);
      else pending.push(s);
    }
    if (pending.length >= 8 && this.pool === undefined) {
      // A second thread decodes from two cores on. On this project's 2-core VM it made a
      // 1 GiB export of text 1.3–1.55× faster when the other core was free (plain 650 → 830–
      // 930 MB/s, encrypted 500 → 690–790), and 0.9–1.3× when other work held that core.
      this.pool = this.decodeThread ? (DecodePool.start(this.codec.key) ?? null) : null;
    }
    pending.sort((a, b) => a.segment - b.segment || a.offset - b.offset);
    for (let i = 0; i < pending.length; ) {
      const first = pending[i]!;
      let j = i + 1;
      while (
        j < pending.length &&
        pending[j]!.segment === first.segment &&
        pending[j]!.offset - pending[j - 1]!.offset <= RUN_GAP &&
        pending[j]!.offset - first.offset <= RUN_LIMIT
      ) {
        j++;
      }
      const jobs: Array<DecodeJob & { where: () => string }> = [];
      let jobBytes = 0;
      this.readRun(pending.slice(i, j), (wants, r) => {
        const only = wants[0]!;
        if (wants.length === 1 && only.from === 0 && only.into.length === r.length) {
          if (!this.pool?.usable || !(r.flags & (RecordFlag.Zstd | RecordFlag.Encrypted))) {
            r.decode(only.into);
            return;
          }
          // Decoded later, in one batch over both threads (the run's bytes stay in `scratch`).
          jobs.push({ stored: r.stored, aad: r.aad, flags: r.flags, logical: r.length, into: only.into, where: r.where });
          jobBytes += r.length;
          if (jobBytes >= MAX_BATCH_BYTES || jobs.length >= MAX_JOBS) jobBytes = this.decodeAll(jobs.splice(0), jobBytes);
          return;
        }
        const data = this.keep(only.segment, only.offset, r.decode());
        for (const w of wants) copySlice(data, w, r.where);
      });
      this.decodeAll(jobs, jobBytes);
      i = j;
    }
  }

  /** Decodes whole records into place: on two threads when there is enough work. Returns 0. */
  private decodeAll(jobs: Array<DecodeJob & { where: () => string }>, bytes: number): number {
    const here = (j: DecodeJob & { where: () => string }) => void this.codec.unpack(j.stored, j.flags, j.logical, j.aad, j.where, j.into);
    const input = this.scratch.buffer;
    if (this.pool?.usable && input instanceof SharedArrayBuffer && bytes >= MIN_BATCH_BYTES) {
      this.pool.run(input, jobs, (j) => here(j as DecodeJob & { where: () => string }));
    } else {
      for (const j of jobs) here(j);
    }
    return 0;
  }

  /**
   * Reads the records of `run` (one segment, ascending offsets) with as few preads as their
   * sizes allow, verifies each, and hands each record's slices to `use` (views of `scratch`,
   * valid until the next run). A record wanted by one slice is read speculatively as raw:
   * its payload bytes go straight into the slice's buffer (one preadv for the run), and if
   * the header confirms a raw payload, the record is verified there and `use` is skipped —
   * the bytes are read once and never copied (an export's hot path).
   */
  private readRun(run: RecordSlice[], use: (wants: RecordSlice[], record: VerifiedRecord) => void): void {
    const segment = run[0]!.segment;
    const base = run[0]!.offset;
    const fd = this.files.fd(segment);
    // Room for the last record at its largest; only what is needed is read.
    const buf = this.scratchOf(run[run.length - 1]!.offset - base + MAX_RECORD_BYTES);
    const groups: RecordSlice[][] = [];
    for (let i = 0; i < run.length; ) {
      let j = i + 1;
      while (j < run.length && run[j]!.offset === run[i]!.offset) j++;
      groups.push(run.slice(i, j));
      i = j;
    }
    const routes = planRoutes(groups, base, buf.length);
    let filled = 0;
    const fill = (upTo: number): void => {
      while (filled < upTo) {
        const n = readSync(fd, buf, filled, Math.min(buf.length, Math.max(upTo, filled + FIRST_READ)) - filled, base + filled);
        if (n === 0) return;
        filled += n;
      }
    };
    let firstRead = Math.min(buf.length, run[run.length - 1]!.offset - base + FIRST_READ);
    for (const rs of routes.values()) firstRead = Math.max(firstRead, rs[rs.length - 1]!.end);
    if (routes.size === 0) fill(firstRead); // usually the one pread
    else filled = readRouted(fd, buf, base, firstRead, routes);
    for (const wants of groups) {
      const offset = wants[0]!.offset;
      const where = () => `segment ${segment} at byte ${offset}`;
      const at = offset - base;
      fill(at + RECORD_HEADER_SIZE);
      // The few header fields a read needs, read in place (decodeRecordHeader makes BigInts).
      const problem = recordHeaderProblem(buf, at, filled - at) ?? (buf[at + 4] !== RecordType.Write ? 'not a write record' : undefined);
      if (problem) throw damagedRecord(where(), problem);
      const flags = buf[at + 5]!;
      const storedLength = buf.readUInt32LE(at + 12);
      const length = buf.readUInt32LE(at + 40);
      const end = at + RECORD_HEADER_SIZE + storedLength;
      if (storedLength <= MAX_STORED) fill(end);
      if (storedLength > MAX_STORED || end > filled) {
        throw damagedRecord(where(), 'record cut short');
      }
      const routed = routes.get(wants);
      if (routed) {
        const raw = (flags & (RecordFlag.Zstd | RecordFlag.Encrypted | RecordFlag.Zero)) === 0 && length === storedLength;
        // Routes are in payload order: the last one ends furthest.
        if (raw && routed[routed.length - 1]!.end <= end) {
          // The payload is [at + header, end), parts of it already in the slices: hash it in place.
          const only = routed.length === 1 && routed[0]!.start === at + RECORD_HEADER_SIZE && routed[0]!.end === end ? routed[0]!.into : undefined;
          if ((only ? this.checksumBeside(buf, at, only) : this.checksumAcross(buf, at, end, routed)) !== buf.readBigUInt64LE(at + 56)) {
            throw damagedRecord(where(), 'checksum mismatch');
          }
          continue;
        }
        // Not raw after all: put the bytes back where the record's decode expects them.
        for (const r of routed) r.into.copy(buf, r.start, 0, Math.max(0, Math.min(filled, r.end) - r.start));
      }
      // The checksum covers header[0, 56) ‖ payload: move those 56 bytes up against the
      // payload (over the checksum field) and hash the record in one call, without a copy.
      const sum = buf.readBigUInt64LE(at + 56);
      buf.copyWithin(at + 8, at, at + 56);
      const covered = buf.subarray(at + 8, end);
      if (xxh64(covered) !== sum) {
        throw damagedRecord(where(), 'checksum mismatch');
      }
      const aad = covered.subarray(0, 56);
      const stored = buf.subarray(at + RECORD_HEADER_SIZE, end);
      const decode = (into?: Buffer): Buffer => {
        const data = this.codec.unpack(stored, flags, length, aad, where, into);
        // A raw payload is a view of the scratch buffer, which the next run overwrites.
        return data.buffer === buf.buffer ? Buffer.from(data) : data;
      };
      use(wants, { stored, aad, flags, length, where, decode });
    }
  }

  /**
   * The checksum of the record whose header is at `buf[at]` and whose whole payload was
   * read into `payload`: in one call over header[0, 56) ‖ payload, laid against each other
   * by lending the 56 bytes before the payload (put back at once; nothing else runs in
   * between, and shared memory, which another thread might read meanwhile, is not lent).
   */
  private checksumBeside(buf: Buffer, at: number, payload: Buffer): bigint {
    if (payload.byteOffset < 56 || payload.buffer instanceof SharedArrayBuffer) return this.checksumAcross(buf, at, at + RECORD_HEADER_SIZE + payload.length, [{ start: at + RECORD_HEADER_SIZE, end: at + RECORD_HEADER_SIZE + payload.length, into: payload }]);
    const covered = Buffer.from(payload.buffer, payload.byteOffset - 56, 56 + payload.length);
    covered.copy(this.lent, 0, 0, 56);
    buf.copy(covered, 0, at, at + 56);
    const sum = xxh64(covered);
    this.lent.copy(covered, 0, 0, 56);
    return sum;
  }

  /** The checksum of the record at `buf[at, end)` whose payload lies partly in `routed` slices. */
  private checksumAcross(buf: Buffer, at: number, end: number, routed: Route[]): bigint {
    const h = this.hasher;
    h.reset();
    h.update(buf.subarray(at, at + 56));
    let pos = at + RECORD_HEADER_SIZE;
    for (const r of routed) {
      if (r.start > pos) h.update(buf.subarray(pos, r.start));
      h.update(r.into);
      pos = r.end;
    }
    if (end > pos) h.update(buf.subarray(pos, end));
    return h.digest();
  }

  /**
   * One read buffer, reused: nothing decoded points into it (see decode), and fresh pages
   * for every run cost the kernel a page fault per 4 KiB — more than the copy itself.
   */
  private scratchOf(length: number): Buffer {
    const shared = this.scratch.buffer instanceof SharedArrayBuffer;
    if (this.scratch.length < length || (this.pool?.usable ?? false) !== shared) {
      const size = Math.max(length, 1024 * 1024);
      // Shared when a worker decodes from it too.
      this.scratch = this.pool?.usable ? Buffer.from(new SharedArrayBuffer(size)) : Buffer.allocUnsafeSlow(size);
    }
    return this.scratch.subarray(0, length);
  }

  private cached(segment: number, offset: number): Buffer | undefined {
    const key = cacheKey(segment, offset);
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
    }
    return hit;
  }

  private keep(segment: number, offset: number, data: Buffer): Buffer {
    this.cache.set(cacheKey(segment, offset), data);
    this.cacheBytes += data.length;
    while (this.cacheBytes > this.cacheLimit) {
      const [k, v] = this.cache.entries().next().value as [number | string, Buffer];
      this.cache.delete(k);
      this.cacheBytes -= v.length;
    }
    return data;
  }

  clear(): void {
    this.cache.clear();
    this.cacheBytes = 0;
  }

  close(): void {
    this.clear();
    this.pool?.close();
    this.pool = undefined;
  }
}

/** A record that fails its checks: verifying the appliance names everything else it touches. */
function damagedRecord(where: string, problem: string): ChronodiskError {
  return new ChronodiskError('damaged', `${where} is damaged (${problem})`, { remedy: 'verify' });
}

/** A record's key in the cache: one number while that is exact (a string beyond). */
function cacheKey(segment: number, offset: number): number | string {
  return segment < 2 ** 16 && offset < 2 ** 36 ? segment * 2 ** 36 + offset : `${segment}:${offset}`;
}

/** Copies a slice out of a record's logical bytes; an index pointing past them is damage. */
function copySlice(data: Buffer, s: RecordSlice, where: () => string): void {
  if (s.from < 0 || s.from + s.into.length > data.length) {
    throw new ChronodiskError('damaged', `the index does not match ${where()}: it wants bytes ${s.from}+${s.into.length} of a ${data.length}-byte record`, { remedy: 'rebuild-index' });
  }
  data.copy(s.into, 0, s.from, s.from + s.into.length);
}

/**
 * Which records to read straight into their slices (see Route), keyed by the record's
 * group of slices: slices not overlapping each other nor the next record's header, inside
 * the scratch buffer (so a wrong guess can be copied back), wanting MIN_ROUTED bytes or a
 * record that the next one shows to be whole.
 */
function planRoutes(groups: RecordSlice[][], base: number, room: number): Map<RecordSlice[], Route[]> {
  const routes = new Map<RecordSlice[], Route[]>();
  let floor = 0;
  let count = 0;
  for (let g = 0; g < groups.length && count < MAX_ROUTES; g++) {
    const wants = groups[g]!;
    const at = wants[0]!.offset - base + RECORD_HEADER_SIZE;
    const next = g + 1 < groups.length ? groups[g + 1]![0]!.offset - base : room;
    const sorted = wants.length === 1 ? wants : [...wants].sort((a, b) => a.from - b.from);
    const rs: Route[] = [];
    let low = floor;
    let wanted = 0;
    for (const s of sorted) {
      const start = at + s.from;
      const end = start + s.into.length;
      if (s.into.length === 0 || start < low || end > next || end > room) break;
      rs.push({ start, end, into: s.into });
      low = end;
      wanted += s.into.length;
    }
    if (rs.length !== wants.length) continue;
    const whole = wants.length === 1 && wants[0]!.from === 0 && rs[0]!.end === next;
    if (wanted < MIN_ROUTED && !whole) continue;
    routes.set(wants, rs);
    floor = low;
    count += rs.length;
  }
  return routes;
}

/**
 * One preadv of run bytes [0, upTo): routed ranges into their slices, the rest into `buf`.
 * Returns how far it read; a record whose routes the read did not reach falls back.
 */
function readRouted(fd: number, buf: Buffer, base: number, upTo: number, routes: Map<RecordSlice[], Route[]>): number {
  const iov: Buffer[] = [];
  let pos = 0;
  for (const rs of routes.values()) {
    for (const r of rs) {
      if (r.start > pos) iov.push(buf.subarray(pos, r.start));
      iov.push(r.into);
      pos = r.end;
    }
  }
  if (upTo > pos) iov.push(buf.subarray(pos, upTo));
  const n = readvSync(fd, iov, base);
  for (const [wants, rs] of routes) {
    if (rs[rs.length - 1]!.end <= n) continue;
    for (const r of rs) if (r.start < n) r.into.copy(buf, r.start, 0, Math.min(n, r.end) - r.start);
    routes.delete(wants);
  }
  return n;
}
