import { MAX_RECORD_LENGTH, RECORD_HEADER_SIZE, RecordFlag, RecordType } from '../format/constants.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import { associatedData, encodeRecordHeaderInto, stampChecksum, type RecordHeader } from '../format/segment-record.js';

/** The fields of a record before encoding: the codec picks flags and stored length. */
export type RecordFields = Omit<RecordHeader, 'flags' | 'storedLength'>;

/**
 * Encodes one record into `out` at `at` (room for maxEncodedSize): the 64-byte header,
 * then the payload — zero check, zstd or raw (when `packData`), AES-GCM bound to the
 * header, then the xxh64 checksum. Pure CPU work with no position in it, so worker
 * threads can do it in parallel and the writer only places the results in order.
 * Returns the encoded size and the record flags.
 */
export function encodeRecordInto(codec: PayloadCodec, fields: RecordFields, data: Buffer, packData: boolean, out: Buffer, at: number): { size: number; flags: number } {
  const body = out.subarray(at + RECORD_HEADER_SIZE);
  let flags = 0;
  let length = data.length;
  if (packData) ({ length, flags } = codec.packInto(data, codec.encrypted ? scratch(codec, data.length) : body));
  else if (!codec.encrypted) data.copy(body);
  const header = out.subarray(at, at + RECORD_HEADER_SIZE);
  if (codec.encrypted && length > 0) {
    const plain = packData ? scratch(codec, data.length).subarray(0, length) : data;
    flags |= RecordFlag.Encrypted;
    encodeRecordHeaderInto(header, { ...fields, flags, storedLength: codec.encryptedSize(length) });
    length = codec.sealInto(plain, associatedData(header), body);
  } else {
    encodeRecordHeaderInto(header, { ...fields, flags, storedLength: length });
  }
  stampChecksum(header, body.subarray(0, length));
  return { size: RECORD_HEADER_SIZE + length, flags };
}

/** The most bytes a record of `length` logical bytes can take encoded. */
export function maxEncodedSize(codec: PayloadCodec, length: number): number {
  return RECORD_HEADER_SIZE + codec.maxStoredSize(length);
}

/** Encodes one record into a buffer of its own. */
export function encodeRecord(codec: PayloadCodec, fields: RecordFields, data: Buffer, packData: boolean): { bytes: Buffer; flags: number } {
  const out = Buffer.allocUnsafe(maxEncodedSize(codec, data.length));
  const r = encodeRecordInto(codec, fields, data, packData, out, 0);
  return { bytes: out.subarray(0, r.size), flags: r.flags };
}

/** Where an encrypted record's plain payload waits for encryption (one per codec). */
const scratches = new WeakMap<PayloadCodec, Buffer>();
function scratch(codec: PayloadCodec, length: number): Buffer {
  let b = scratches.get(codec);
  if (!b || b.length < codec.maxStoredSize(length)) scratches.set(codec, (b = Buffer.allocUnsafe(codec.maxStoredSize(Math.max(length, 64 * 1024)))));
  return b;
}

/**
 * Numbers per write in an EncodeRequest's `writes`: disk id, seq, time µs, disk offset,
 * length, and the bytes it has in `data` (its length, or 0 for a run of zeros).
 */
export const WRITE_FIELDS = 6;

/**
 * A run of write records for a worker: `data` holds their logical bytes back to back
 * (transferred, not copied; the reply hands it back for reuse), `writes` their fields,
 * WRITE_FIELDS numbers each.
 */
export interface EncodeRequest {
  id: number;
  data: ArrayBuffer;
  writes: Float64Array;
}

/** The records of an EncodeRequest, encoded and back to back in `bytes`, in order. */
export interface EncodeReply {
  id: number;
  /** The request's buffer, returned. */
  data: ArrayBuffer;
  bytes?: ArrayBuffer;
  /** Each record's encoded size (header + payload). */
  sizes?: Uint32Array;
  flags?: Uint8Array;
  error?: string;
}

/** Encodes every write of a request (what a worker does with one message). */
const ZEROS = Buffer.alloc(MAX_RECORD_LENGTH);

export function encodeWrites(codec: PayloadCodec, req: EncodeRequest): Required<Omit<EncodeReply, 'error'>> {
  const count = req.writes.length / WRITE_FIELDS;
  const data = Buffer.from(req.data);
  let room = 0;
  for (let i = 0; i < count; i++) room += maxEncodedSize(codec, req.writes[i * WRITE_FIELDS + 4]!);
  // Not zeroed: every byte sent back is written below (fresh zeroed memory cost ~15%).
  const bytes = Buffer.allocUnsafeSlow(room);
  const sizes = new Uint32Array(count);
  const flags = new Uint8Array(count);
  let at = 0;
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const f = req.writes.subarray(i * WRITE_FIELDS, (i + 1) * WRITE_FIELDS);
    const length = f[4]!;
    const logical = f[5] ? data.subarray(at, at + length) : ZEROS.subarray(0, length);
    const r = encodeRecordInto(codec, { type: RecordType.Write, diskId: f[0]!, seq: f[1]!, timeUs: f[2]!, a: f[3]!, b: length, c: 0 }, logical, true, bytes, pos);
    at += f[5]!;
    pos += r.size;
    sizes[i] = r.size;
    flags[i] = r.flags;
  }
  return { id: req.id, data: req.data, bytes: bytes.buffer as ArrayBuffer, sizes, flags };
}
