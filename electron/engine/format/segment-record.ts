import { RECORD_HEADER_SIZE, RECORD_MAGIC, RecordType } from './constants.js';
import { checksum, Xxh64 } from './checksum.js';

/**
 * One record of a segment: a 64-byte header, then `storedLength` payload bytes.
 *
 *   off size  field
 *    0   4    magic "CDR1"
 *    4   1    type: 1 write, 2 commit, 3 seal
 *    5   1    flags: 1 zstd, 2 encrypted, 4 zero
 *    6   2    reserved (0)
 *    8   4    disk id (0 for seal)
 *   12   4    storedLength
 *   16   8    seq
 *   24   8    time, µs since the epoch
 *   32   8    a: write → byte offset on the disk; commit → first seq of the batch; seal → record count
 *   40   4    b: write → logical length; commit → commit flags
 *   44   4    reserved (0)
 *   48   8    c: commit → logical bytes in the batch; otherwise 0
 *   56   8    xxh64(header[0..56) ‖ payload)
 */
export interface RecordHeader {
  type: RecordType;
  flags: number;
  diskId: number;
  storedLength: number;
  seq: number;
  timeUs: number;
  a: number;
  b: number;
  c: number;
}

export function encodeRecordHeader(h: RecordHeader): Buffer {
  return encodeRecordHeaderInto(Buffer.allocUnsafe(RECORD_HEADER_SIZE), h);
}

/** Writes the header fields into `buf` (64 bytes; reserved bytes zeroed, checksum left 0). */
export function encodeRecordHeaderInto(buf: Buffer, h: RecordHeader): Buffer {
  buf.fill(0, 0, RECORD_HEADER_SIZE);
  buf.writeUInt32LE(RECORD_MAGIC, 0);
  buf.writeUInt8(h.type, 4);
  buf.writeUInt8(h.flags, 5);
  buf.writeUInt32LE(h.diskId, 8);
  buf.writeUInt32LE(h.storedLength, 12);
  buf.writeBigUInt64LE(BigInt(h.seq), 16);
  buf.writeBigUInt64LE(BigInt(h.timeUs), 24);
  buf.writeBigUInt64LE(BigInt(h.a), 32);
  buf.writeUInt32LE(h.b, 40);
  buf.writeBigUInt64LE(BigInt(h.c), 48);
  return buf;
}

/** Fills in the checksum field of an encoded header for the payload that follows it. */
export function stampChecksum(header: Buffer, payload: Buffer | Buffer[]): void {
  const h = new Xxh64();
  h.update(header.subarray(0, 56));
  for (const part of Array.isArray(payload) ? payload : [payload]) if (part.length) h.update(part);
  header.writeBigUInt64LE(h.digest(), 56);
}

export function recordChecksumOk(header: Buffer, payload: Buffer): boolean {
  const h = new Xxh64();
  h.update(header.subarray(0, 56));
  if (payload.length) h.update(payload);
  return header.readBigUInt64LE(56) === h.digest();
}

/** The header bytes that encryption binds to the payload (everything but the checksum). */
export function associatedData(header: Buffer): Buffer {
  return header.subarray(0, 56);
}

/**
 * Why the bytes at `buf[at, at + available)` cannot be a record header, or undefined when
 * they can: what decodeRecordHeader checks, without decoding (a reader's hot path reads the
 * few fields it needs itself).
 */
export function recordHeaderProblem(buf: Buffer, at = 0, available = buf.length - at): string | undefined {
  if (available < RECORD_HEADER_SIZE) return 'truncated record header';
  if (buf.readUInt32LE(at) !== RECORD_MAGIC) return 'bad record magic';
  const type = buf[at + 4]!;
  if (type < RecordType.Write || type > RecordType.Seal) return `unknown record type ${type}`;
  return undefined;
}

/** Parses a header; returns a reason when the bytes cannot be a record header. */
export function decodeRecordHeader(buf: Buffer): RecordHeader | string {
  const problem = recordHeaderProblem(buf);
  if (problem) return problem;
  const type = buf.readUInt8(4);
  return {
    type,
    flags: buf.readUInt8(5),
    diskId: buf.readUInt32LE(8),
    storedLength: buf.readUInt32LE(12),
    seq: Number(buf.readBigUInt64LE(16)),
    timeUs: Number(buf.readBigUInt64LE(24)),
    a: Number(buf.readBigUInt64LE(32)),
    b: buf.readUInt32LE(40),
    c: Number(buf.readBigUInt64LE(48)),
  };
}

export { checksum };
