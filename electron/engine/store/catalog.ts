import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  CATALOG_FILE,
  CATALOG_MAGIC,
  CATALOG_RECORD_HEADER_SIZE,
  CATALOG_RECORD_MAGIC,
  CATALOG_RECORD_TRAILER_SIZE,
  CatalogType,
  FILE_HEADER_SIZE,
  FORMAT_VERSION,
  MAX_CATALOG_PAYLOAD,
  RecordFlag,
} from '../format/constants.js';
import { checksum } from '../format/checksum.js';
import { decodeFileHeader, encodeFileHeader } from '../format/file-header.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import { ChronodiskError, fromFsError } from '../errors.js';
import { fsyncDir } from './durable-file.js';
import { CatalogState, type CatalogEntry } from './catalog-state.js';

export type { CatalogEntry };

/** What reading the catalog found after its last valid record. */
export type CatalogTail = { kind: 'clean' } | { kind: 'torn'; at: number; bytes: number } | { kind: 'damaged'; at: number; reason: string };

/**
 * The append-only catalog: disk registrations, bookmarks, settings and the live-segment
 * manifest. Each record is authenticated (xxh64; AES-GCM too when encrypted) and made
 * durable (fdatasync) before append() returns. Replaying it gives CatalogState.
 */
export class Catalog {
  readonly state = new CatalogState();
  private end = FILE_HEADER_SIZE;
  private nextNumber = 1;
  tail: CatalogTail = { kind: 'clean' };

  private constructor(
    private readonly fd: number,
    readonly path: string,
    private readonly codec: PayloadCodec,
    private readonly writable: boolean,
  ) {}

  static create(dir: string, applianceId: Buffer, createdUs: number, codec: PayloadCodec): void {
    const path = join(dir, CATALOG_FILE);
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, encodeFileHeader({ magic: CATALOG_MAGIC, version: FORMAT_VERSION, flags: codec.encrypted ? 1 : 0, id: 0, applianceId, createdUs }));
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    fsyncDir(dir);
  }

  /** Opens and replays the catalog. A writer cuts a torn tail; a reader only notes it. */
  static open(dir: string, codec: PayloadCodec, writable: boolean, applianceId: Buffer): Catalog {
    const path = join(dir, CATALOG_FILE);
    let fd: number;
    try {
      fd = openSync(path, writable ? 'r+' : 'r');
    } catch (e) {
      throw fromFsError(e, `the appliance catalog ${path}`);
    }
    const cat = new Catalog(fd, path, codec, writable);
    const head = Buffer.alloc(FILE_HEADER_SIZE);
    readSync(fd, head, 0, FILE_HEADER_SIZE, 0);
    const h = decodeFileHeader(head, CATALOG_MAGIC);
    if (typeof h === 'string' || !h.applianceId.equals(applianceId)) {
      closeSync(fd);
      throw new ChronodiskError('damaged', `the catalog ${path} is damaged (${typeof h === 'string' ? h : 'it belongs to another appliance'})`, { remedy: 'verify' });
    }
    cat.refresh();
    if (writable && cat.tail.kind === 'torn') {
      ftruncateSync(fd, cat.tail.at);
      fdatasyncSync(fd);
      cat.tail = { kind: 'clean' };
    }
    if (writable && cat.tail.kind === 'damaged') {
      closeSync(fd);
      throw new ChronodiskError('damaged', `the catalog is damaged at byte ${cat.tail.at} (${cat.tail.reason})`, { remedy: 'verify' });
    }
    return cat;
  }

  /** Reads records appended since the last call (readers follow a live writer this way). */
  refresh(): CatalogEntry[] {
    const size = fstatSync(this.fd).size;
    const found: CatalogEntry[] = [];
    let pos = this.end;
    while (pos < size) {
      const r = this.readAt(pos, size);
      if ('tail' in r) {
        this.tail = r.tail;
        break;
      }
      found.push(r.entry);
      this.state.apply(r.entry);
      this.nextNumber = r.entry.number + 1;
      pos = r.next;
    }
    this.end = pos;
    if (pos >= size) this.tail = { kind: 'clean' };
    return found;
  }

  /** Every record from the start, for check and rebuild (does not change state). */
  readAll(): { entries: CatalogEntry[]; tail: CatalogTail } {
    const size = fstatSync(this.fd).size;
    const entries: CatalogEntry[] = [];
    let pos = FILE_HEADER_SIZE;
    while (pos < size) {
      const r = this.readAt(pos, size);
      if ('tail' in r) return { entries, tail: r.tail };
      entries.push(r.entry);
      pos = r.next;
    }
    return { entries, tail: { kind: 'clean' } };
  }

  append(type: CatalogType, body: Record<string, unknown>, timeUs: number): CatalogEntry {
    if (!this.writable) throw new Error('catalog opened read-only');
    const number = this.nextNumber;
    const header = Buffer.alloc(CATALOG_RECORD_HEADER_SIZE);
    header.writeUInt32LE(CATALOG_RECORD_MAGIC, 0);
    header.writeUInt8(type, 4);
    header.writeUInt8(this.codec.encrypted ? RecordFlag.Encrypted : 0, 5);
    const json = Buffer.from(JSON.stringify(body));
    header.writeUInt32LE(this.codec.encryptedSize(json.length), 8);
    header.writeBigUInt64LE(BigInt(number), 16);
    header.writeBigUInt64LE(BigInt(timeUs), 24);
    const payload = this.codec.seal(json, header);
    const trailer = Buffer.alloc(CATALOG_RECORD_TRAILER_SIZE);
    trailer.writeBigUInt64LE(checksum(Buffer.concat([header, payload])), 0);
    const rec = Buffer.concat([header, payload, trailer]);
    try {
      if (writeSync(this.fd, rec, 0, rec.length, this.end) !== rec.length) throw Object.assign(new Error('short write to the catalog'), { code: 'ENOSPC' });
      fdatasyncSync(this.fd);
    } catch (e) {
      // A full drive may take part of the record: cut it off, or a shorter record written
      // here later would leave its remains behind as a damaged tail.
      try {
        ftruncateSync(this.fd, this.end);
      } catch {
        // the next open cuts a torn tail
      }
      throw e;
    }
    this.end += rec.length;
    this.nextNumber++;
    const entry: CatalogEntry = { type, number, timeUs, body };
    this.state.apply(entry);
    return entry;
  }

  close(): void {
    closeSync(this.fd);
  }

  /**
   * A record that claims to run past the end of the file is a torn append (a crash) — unless
   * the bytes after its header hold it whole under another length, ending at the end of the
   * file or where another record starts: then its length field is damaged, and cutting it
   * as a torn tail would throw away every record after it.
   */
  private wholeUnderAnotherLength(pos: number, header: Buffer, size: number): boolean {
    const rest = Buffer.alloc(size - pos - CATALOG_RECORD_HEADER_SIZE);
    readSync(this.fd, rest, 0, rest.length, pos + CATALOG_RECORD_HEADER_SIZE);
    const lengths = [rest.length - CATALOG_RECORD_TRAILER_SIZE];
    for (let q = rest.indexOf(RECORD_MAGIC_BYTES); q >= 0; q = rest.indexOf(RECORD_MAGIC_BYTES, q + 1)) lengths.push(q - CATALOG_RECORD_TRAILER_SIZE);
    const h = Buffer.from(header);
    for (const len of lengths) {
      if (len < 0 || len > MAX_CATALOG_PAYLOAD) continue;
      h.writeUInt32LE(len, 8);
      if (rest.readBigUInt64LE(len) === checksum(Buffer.concat([h, rest.subarray(0, len)]))) return true;
    }
    return false;
  }

  private readAt(pos: number, size: number): { entry: CatalogEntry; next: number } | { tail: CatalogTail } {
    const remaining = size - pos;
    const torn = (): { tail: CatalogTail } => ({ tail: { kind: 'torn', at: pos, bytes: remaining } });
    if (remaining < CATALOG_RECORD_HEADER_SIZE + CATALOG_RECORD_TRAILER_SIZE) return torn();
    const header = Buffer.alloc(CATALOG_RECORD_HEADER_SIZE);
    readSync(this.fd, header, 0, header.length, pos);
    if (header.readUInt32LE(0) !== CATALOG_RECORD_MAGIC) {
      return isZeroTail(this.fd, pos, size) ? torn() : { tail: { kind: 'damaged', at: pos, reason: 'bad record magic' } };
    }
    const len = header.readUInt32LE(8);
    if (len > MAX_CATALOG_PAYLOAD) return { tail: { kind: 'damaged', at: pos, reason: `record length ${len} is impossible` } };
    const total = CATALOG_RECORD_HEADER_SIZE + len + CATALOG_RECORD_TRAILER_SIZE;
    if (total > remaining) {
      return this.wholeUnderAnotherLength(pos, header, size) ? { tail: { kind: 'damaged', at: pos, reason: 'record length field is damaged' } } : torn();
    }
    const rest = Buffer.alloc(len + CATALOG_RECORD_TRAILER_SIZE);
    readSync(this.fd, rest, 0, rest.length, pos + CATALOG_RECORD_HEADER_SIZE);
    const payload = rest.subarray(0, len);
    if (rest.readBigUInt64LE(len) !== checksum(Buffer.concat([header, payload]))) {
      return { tail: { kind: 'damaged', at: pos, reason: 'checksum mismatch' } };
    }
    const flags = header.readUInt8(5);
    const json = flags & RecordFlag.Encrypted ? this.codec.open(payload, header, () => `catalog record at byte ${pos}`) : payload;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
    } catch {
      return { tail: { kind: 'damaged', at: pos, reason: 'record body is not JSON' } };
    }
    return {
      entry: { type: header.readUInt8(4), number: Number(header.readBigUInt64LE(16)), timeUs: Number(header.readBigUInt64LE(24)), body },
      next: pos + total,
    };
  }
}

const RECORD_MAGIC_BYTES = Buffer.alloc(4);
RECORD_MAGIC_BYTES.writeUInt32LE(CATALOG_RECORD_MAGIC, 0);

function isZeroTail(fd: number, pos: number, size: number): boolean {
  const buf = Buffer.alloc(Math.min(size - pos, 1 << 20));
  readSync(fd, buf, 0, buf.length, pos);
  return buf.every((b) => b === 0);
}
