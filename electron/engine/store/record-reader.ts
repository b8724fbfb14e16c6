import { readSync } from 'node:fs';
import { xxh64 } from '@node-rs/xxhash';
import { RECORD_HEADER_SIZE, RecordType } from '../format/constants.js';
import { decodeRecordHeader } from '../format/segment-record.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import { ChronodiskError } from '../errors.js';
import { MAX_STORED, type SegmentFiles } from './segment-file.js';

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
    this.readRun([{ segment, offset, from: 0, into: Buffer.alloc(0) }], (_slices, decode) => (data = this.keep(segment, offset, decode())));
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
      this.readRun(pending.slice(i, j), (wants, decode, length, where) => {
        const only = wants[0]!;
        if (wants.length === 1 && only.from === 0 && only.into.length === length) {
          decode(only.into);
          return;
        }
        const data = this.keep(only.segment, only.offset, decode());
        for (const w of wants) copySlice(data, w, where);
      });
      i = j;
    }
  }

  /**
   * Reads the records of `run` (one segment, ascending offsets) with as few preads as their
   * sizes allow, verifies each, and hands each record's slices to `use` with a decoder.
   */
  private readRun(
    run: RecordSlice[],
    use: (wants: RecordSlice[], decode: (into?: Buffer) => Buffer, length: number, where: () => string) => void,
  ): void {
    const segment = run[0]!.segment;
    const base = run[0]!.offset;
    const fd = this.files.fd(segment);
    // Room for the last record at its largest; only what is needed is read.
    const buf = Buffer.allocUnsafe(run[run.length - 1]!.offset - base + MAX_RECORD_BYTES);
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
        // A raw payload is a view of `buf`: copy it rather than let a cache entry pin the run.
        return data.buffer === buf.buffer ? Buffer.from(data) : data;
      };
      use(wants, decode, header.b, where);
    }
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
}

/** Copies a slice out of a record's logical bytes; an index pointing past them is damage. */
function copySlice(data: Buffer, s: RecordSlice, where: () => string): void {
  if (s.from < 0 || s.from + s.into.length > data.length) {
    throw new ChronodiskError('damaged', `${where()} is damaged (the index wants bytes ${s.from}+${s.into.length} of a ${data.length}-byte record); run chronodisk rebuild-index`);
  }
  data.copy(s.into, 0, s.from, s.from + s.into.length);
}
