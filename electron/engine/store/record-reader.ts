import { readSync } from 'node:fs';
import { RECORD_HEADER_SIZE, MAX_RECORD_LENGTH, RecordType } from '../format/constants.js';
import { associatedData, decodeRecordHeader, recordChecksumOk } from '../format/segment-record.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import { ChronodiskError } from '../errors.js';
import type { SegmentFiles } from './segment-file.js';

/**
 * Reads the logical bytes of write records, verifying each record's checksum (and GCM tag)
 * on every read from disk. Damage is an error naming the segment, never wrong bytes.
 * Decoded records stay in a small LRU: a run of 4 KiB reads from one 64 KiB record
 * decompresses it once.
 */
const FIRST_READ = 16 * 1024;

export class RecordReader {
  private cache = new Map<string, Buffer>();
  private cacheBytes = 0;

  constructor(
    private readonly files: SegmentFiles,
    private readonly codec: PayloadCodec,
    private readonly cacheLimit = 64 * 1024 * 1024,
  ) {}

  read(segment: number, offset: number): Buffer {
    const key = `${segment}:${offset}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const data = this.load(segment, offset);
    this.cache.set(key, data);
    this.cacheBytes += data.length;
    while (this.cacheBytes > this.cacheLimit) {
      const [k, v] = this.cache.entries().next().value as [string, Buffer];
      this.cache.delete(k);
      this.cacheBytes -= v.length;
    }
    return data;
  }

  private load(segment: number, offset: number): Buffer {
    const where = () => `segment ${segment} at byte ${offset}`;
    // A fresh buffer per load: a raw payload is returned as a view of it, without a copy.
    // Most stored payloads are small (compressed): read 16 KiB first, the rest only when needed.
    const buf = Buffer.allocUnsafe(RECORD_HEADER_SIZE + MAX_RECORD_LENGTH + 1024);
    const fd = this.files.fd(segment);
    let n = readSync(fd, buf, 0, FIRST_READ, offset);
    if (n >= RECORD_HEADER_SIZE) {
      const want = Math.min(buf.length, RECORD_HEADER_SIZE + buf.readUInt32LE(12));
      if (want > n && n === FIRST_READ) n += readSync(fd, buf, n, want - n, offset + n);
    }
    const header = decodeRecordHeader(buf.subarray(0, Math.min(n, RECORD_HEADER_SIZE)));
    if (typeof header === 'string' || header.type !== RecordType.Write) {
      throw new ChronodiskError('damaged', `${where()} is damaged (${typeof header === 'string' ? header : 'not a write record'}); run chronodisk check`);
    }
    if (RECORD_HEADER_SIZE + header.storedLength > n) {
      throw new ChronodiskError('damaged', `${where()} is damaged (record cut short); run chronodisk check`);
    }
    const headerBytes = buf.subarray(0, RECORD_HEADER_SIZE);
    const stored = buf.subarray(RECORD_HEADER_SIZE, RECORD_HEADER_SIZE + header.storedLength);
    if (!recordChecksumOk(headerBytes, stored)) {
      throw new ChronodiskError('damaged', `${where()} is damaged (checksum mismatch); run chronodisk check --read-data`);
    }
    return this.codec.unpack(stored, header.flags, header.b, associatedData(headerBytes), where);
  }

  clear(): void {
    this.cache.clear();
    this.cacheBytes = 0;
  }
}
