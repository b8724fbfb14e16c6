import { FILE_HEADER_SIZE } from './constants.js';
import { checksum } from './checksum.js';

/**
 * The 64-byte header at the start of a segment file and of the catalog:
 *   0 magic[8] · 8 u32 version · 12 u32 flags · 16 u64 id · 24 uuid[16] · 40 u64 createdUs
 *   48 reserved[8] · 56 u64 xxh64 of bytes 0..56
 */
export interface FileHeader {
  magic: Buffer;
  version: number;
  flags: number;
  id: number;
  applianceId: Buffer;
  createdUs: number;
}

export function encodeFileHeader(h: FileHeader): Buffer {
  const b = Buffer.alloc(FILE_HEADER_SIZE);
  h.magic.copy(b, 0);
  b.writeUInt32LE(h.version, 8);
  b.writeUInt32LE(h.flags, 12);
  b.writeBigUInt64LE(BigInt(h.id), 16);
  h.applianceId.copy(b, 24, 0, 16);
  b.writeBigUInt64LE(BigInt(h.createdUs), 40);
  b.writeBigUInt64LE(checksum(b.subarray(0, 56)), 56);
  return b;
}

/** Parses and verifies a file header; returns a reason string when it is not valid. */
export function decodeFileHeader(b: Buffer, magic: Buffer): FileHeader | string {
  if (b.length < FILE_HEADER_SIZE) return 'file shorter than its header';
  if (!b.subarray(0, 8).equals(magic)) return 'wrong magic';
  if (b.readBigUInt64LE(56) !== checksum(b.subarray(0, 56))) return 'header checksum mismatch';
  return {
    magic,
    version: b.readUInt32LE(8),
    flags: b.readUInt32LE(12),
    id: Number(b.readBigUInt64LE(16)),
    applianceId: Buffer.from(b.subarray(24, 40)),
    createdUs: Number(b.readBigUInt64LE(40)),
  };
}
