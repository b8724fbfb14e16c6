import { readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { xxh64 } from '@node-rs/xxhash';
import { RECORD_HEADER_SIZE, RecordFlag, RecordType } from '../format/constants.js';
import { decodeRecordHeader } from '../format/segment-record.js';
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
 * Records wanted only in part stay decoded in a bounded LRU: a run of 4 KiB reads from one
 * 64 KiB record decompresses it once. Records wanted whole are decoded straight into the
 * caller's buffer and not kept (an export reads each once).
 */
export class RecordReader {
  private cache = new Map<string, Buffer>();
  private cacheBytes = 0;
  private scratch: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  /** Started on the first large read; null when it cannot run here. */
  private pool: DecodePool | null | undefined;

  constructor(
    private readonly files: SegmentFiles,
    private readonly codec: PayloadCodec,
    private readonly cacheLimit = 64 * 1024 * 1024,
  ) {}

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
      const hit = this.cached(s.segment, s.offset);
      if (hit) copySlice(hit, s, () => `segment ${s.segment} at byte ${s.offset}`);
      else pending.push(s);
    }
    if (pending.length >= 8 && this.pool === undefined) {
      // Two cores are one for us and one for everything else (capture, the desktop): on this
      // project's 2-core VM under load a worker only took CPU from the main thread (measured
      // 0.9-1.3× on text). From three cores on, a second thread decodes.
      this.pool = availableParallelism() > 2 ? (DecodePool.start(this.codec.key) ?? null) : null;
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
   * valid until the next run).
   */
  private readRun(run: RecordSlice[], use: (wants: RecordSlice[], record: VerifiedRecord) => void): void {
    const segment = run[0]!.segment;
    const base = run[0]!.offset;
    const fd = this.files.fd(segment);
    // Room for the last record at its largest; only what is needed is read.
    const buf = this.scratchOf(run[run.length - 1]!.offset - base + MAX_RECORD_BYTES);
    let filled = 0;
    const fill = (upTo: number): void => {
      while (filled < upTo) {
        const n = readSync(fd, buf, filled, Math.min(buf.length, Math.max(upTo, filled + FIRST_READ)) - filled, base + filled);
        if (n === 0) return;
        filled += n;
      }
    };
    fill(Math.min(buf.length, run[run.length - 1]!.offset - base + FIRST_READ)); // usually the one pread
    for (let i = 0; i < run.length; ) {
      const offset = run[i]!.offset;
      let j = i + 1;
      while (j < run.length && run[j]!.offset === offset) j++;
      const wants = run.slice(i, j);
      i = j;
      const where = () => `segment ${segment} at byte ${offset}`;
      const at = offset - base;
      fill(at + RECORD_HEADER_SIZE);
      const header = decodeRecordHeader(buf.subarray(at, Math.min(filled, at + RECORD_HEADER_SIZE)));
      if (typeof header === 'string' || header.type !== RecordType.Write) {
        throw new ChronodiskError('damaged', `${where()} is damaged (${typeof header === 'string' ? header : 'not a write record'}); run chronodisk check`);
      }
      const end = at + RECORD_HEADER_SIZE + header.storedLength;
      if (header.storedLength <= MAX_STORED) fill(end);
      if (header.storedLength > MAX_STORED || end > filled) {
        throw new ChronodiskError('damaged', `${where()} is damaged (record cut short); run chronodisk check`);
      }
      // The checksum covers header[0, 56) ‖ payload: move those 56 bytes up against the
      // payload (over the checksum field) and hash the record in one call, without a copy.
      const sum = buf.readBigUInt64LE(at + 56);
      buf.copyWithin(at + 8, at, at + 56);
      const covered = buf.subarray(at + 8, end);
      if (xxh64(covered) !== sum) {
        throw new ChronodiskError('damaged', `${where()} is damaged (checksum mismatch); run chronodisk check --read-data`);
      }
      const aad = covered.subarray(0, 56);
      const stored = buf.subarray(at + RECORD_HEADER_SIZE, end);
      const decode = (into?: Buffer): Buffer => {
        const data = this.codec.unpack(stored, header.flags, header.b, aad, where, into);
        // A raw payload is a view of the scratch buffer, which the next run overwrites.
        return data.buffer === buf.buffer ? Buffer.from(data) : data;
      };
      use(wants, { stored, aad, flags: header.flags, length: header.b, where, decode });
    }
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
    const key = `${segment}:${offset}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
    }
    return hit;
  }

  private keep(segment: number, offset: number, data: Buffer): Buffer {
    this.cache.set(`${segment}:${offset}`, data);
    this.cacheBytes += data.length;
    while (this.cacheBytes > this.cacheLimit) {
      const [k, v] = this.cache.entries().next().value as [string, Buffer];
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

/** Copies a slice out of a record's logical bytes; an index pointing past them is damage. */
function copySlice(data: Buffer, s: RecordSlice, where: () => string): void {
  if (s.from < 0 || s.from + s.into.length > data.length) {
    throw new ChronodiskError('damaged', `${where()} is damaged (the index wants bytes ${s.from}+${s.into.length} of a ${data.length}-byte record); run chronodisk rebuild-index`);
  }
  data.copy(s.into, 0, s.from, s.from + s.into.length);
}
