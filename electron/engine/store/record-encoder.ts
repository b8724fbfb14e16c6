import { MAX_RECORD_LENGTH, RECORD_HEADER_SIZE, RecordFlag, RecordType } from '../format/constants.js';
import { isAllZero, type PayloadCodec } from '../format/payload-codec.js';
import { associatedData, encodeRecordHeaderInto, stampChecksum, type RecordHeader } from '../format/segment-record.js';

/** The encoded records of one request, back to back, with each one's size and flags. */
export interface EncodedRun {
  bytes: Buffer;
  sizes: Uint32Array;
  flags: Uint8Array;
  /** 1 where only the header is in `bytes`: the raw payload is still in `data`. */
  external: Uint8Array;
  /** The request's bytes, handed back: external payloads are read from here. */
  data: Buffer;
}

/** The fields of a record before encoding: the codec picks flags and stored length. */
export type RecordFields = Omit<RecordHeader, 'flags' | 'storedLength'>;

/**
 * Encodes one record into `out` at `at` (room for maxEncodedSize): the 64-byte header,
 * then the payload — zero check, zstd or raw (when `packData`), AES-GCM bound to the
 * header, then the xxh64 checksum. Pure CPU work with no position in it, so worker
 * threads can do it in parallel and the writer only places the results in order.
 * With `leaveRaw`, a plain record whose payload is stored raw gets only its header in
 * `out` (`external`): the payload is `data` itself, and the writer writes it from there
 * (one copy fewer for incompressible data). Returns the bytes used in `out` and the flags.
 */
export function encodeRecordInto(codec: PayloadCodec, fields: RecordFields, data: Buffer, packData: boolean, out: Buffer, at: number, leaveRaw = false): { size: number; flags: number; external: boolean } {
  const body = out.subarray(at + RECORD_HEADER_SIZE);
  const header = out.subarray(at, at + RECORD_HEADER_SIZE);
  let flags = 0;
  let length = data.length;
  /** The plain payload: compressed in `dst`, or `data` itself when raw. */
  let plain = data;
  if (packData) {
    const dst = codec.encrypted ? scratch(codec, data.length) : body;
    // Encrypted, a raw payload is sealed straight from `data`: no copy first.
    ({ length, flags } = codec.packInto(data, dst, !codec.encrypted && !leaveRaw));
    if (flags & RecordFlag.Zstd) plain = dst.subarray(0, length);
  } else if (!codec.encrypted && !leaveRaw) data.copy(body);
  if (codec.encrypted && length > 0) {
    flags |= RecordFlag.Encrypted;
    encodeRecordHeaderInto(header, { ...fields, flags, storedLength: codec.encryptedSize(length) });
    length = codec.sealInto(plain, associatedData(header), body);
    stampChecksum(header, body.subarray(0, length));
    return { size: RECORD_HEADER_SIZE + length, flags, external: false };
  }
  encodeRecordHeaderInto(header, { ...fields, flags, storedLength: length });
  const external = leaveRaw && length > 0 && !(flags & RecordFlag.Zstd);
  stampChecksum(header, external ? data : body.subarray(0, length));
  return { size: RECORD_HEADER_SIZE + (external ? 0 : length), flags, external };
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
 * length, and where its bytes start in `data` (-1 for a run of zeros).
 */
export const WRITE_FIELDS = 6;

/**
 * A run of write records for a worker: `data` holds their logical bytes — gathered for
 * the request (an ArrayBuffer, transferred and handed back) or the caller's memory, lent
 * (a SharedArrayBuffer: not copied) — `writes` their fields, WRITE_FIELDS numbers each.
 * `out`, when given, is where the encoded records go (transferred and handed back): the
 * writer recycles these, since fresh memory costs a page fault per 4 KiB.
 */
export interface EncodeRequest {
  id: number;
  /** Undefined: the shared memory of the last request to this thread that lent one. */
  data: ArrayBuffer | SharedArrayBuffer | undefined;
  out: ArrayBuffer | undefined;
  writes: Float64Array;
  /** Compress with the faster settings: requests queue for every thread (PayloadCodec.hurried). */
  hurried?: boolean;
}

/** The records of an EncodeRequest, encoded and back to back in `out`, in order. */
export interface EncodeReply {
  id: number;
  /** The request's buffers, returned (`out` may be a larger one in place of the request's); lent memory is not sent back. */
  data?: ArrayBuffer;
  out?: ArrayBuffer;
  /** The bytes each record has in `out` (header and payload, or the header alone when external). */
  sizes?: Uint32Array;
  flags?: Uint8Array;
  /** 1 where a raw payload was left in `data` (see encodeRecordInto's `leaveRaw`). */
  external?: Uint8Array;
  error?: string;
}

const ZEROS = Buffer.alloc(MAX_RECORD_LENGTH);

/** Encodes every write of a request (what a worker does with one message). */
export function encodeWrites(codec: PayloadCodec, req: EncodeRequest, memory?: SharedArrayBuffer): EncodeReply {
  const count = req.writes.length / WRITE_FIELDS;
  const bytes = req.data ?? memory;
  if (!bytes) throw new Error('a request refers to shared memory this thread does not hold');
  const data = Buffer.from(bytes);
  codec.hurried = req.hurried === true;
  let room = 0;
  for (let i = 0; i < count; i++) room += req.writes[i * WRITE_FIELDS + 5]! < 0 ? RECORD_HEADER_SIZE : maxEncodedSize(codec, req.writes[i * WRITE_FIELDS + 4]!);
  // Not zeroed: every byte sent back is written below (fresh zeroed memory cost ~15%).
  // With some slack, so the recycled buffer fits the next request too (no page faults).
  const out = req.out && req.out.byteLength >= room ? Buffer.from(req.out) : Buffer.allocUnsafeSlow(Math.ceil((room * 1.125) / 65536) * 65536);
  const sizes = new Uint32Array(count);
  const flags = new Uint8Array(count);
  const external = new Uint8Array(count);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const f = req.writes.subarray(i * WRITE_FIELDS, (i + 1) * WRITE_FIELDS);
    const length = f[4]!;
    const logical = f[5]! >= 0 ? data.subarray(f[5]!, f[5]! + length) : ZEROS.subarray(0, length);
    const r = encodeRecordInto(codec, { type: RecordType.Write, diskId: f[0]!, seq: f[1]!, timeUs: f[2]!, a: f[3]!, b: length, c: 0 }, logical, true, out, pos, true);
    pos += r.size;
    sizes[i] = r.size;
    flags[i] = r.flags;
    external[i] = r.external ? 1 : 0;
  }
  return { id: req.id, data: req.data instanceof ArrayBuffer ? req.data : undefined, out: out.buffer as ArrayBuffer, sizes, flags, external };
}

/**
 * The records of a run of given payloads on a plain appliance, made on the writer's own
 * thread (see CommitPipeline's inline runs): each is a zero record, or a raw one whose
 * payload stays where it is (`external`); only the 64-byte headers are in `bytes`. Write
 * i's last field indexes `pieces` (-1: a run of zeros with no bytes); a record's payload
 * may be several given buffers that follow each other on the disk.
 */
export function encodeInlineRun(fields: number[], pieces: Buffer[][]): EncodedRun {
  const count = fields.length / WRITE_FIELDS;
  const bytes = Buffer.allocUnsafe(count * RECORD_HEADER_SIZE);
  const sizes = new Uint32Array(count).fill(RECORD_HEADER_SIZE);
  const flags = new Uint8Array(count);
  const external = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const f = i * WRITE_FIELDS;
    const piece = fields[f + 5]! >= 0 ? pieces[fields[f + 5]!]! : undefined;
    const zero = !piece || piece.every(isAllZero);
    const header = bytes.subarray(i * RECORD_HEADER_SIZE, (i + 1) * RECORD_HEADER_SIZE);
    flags[i] = zero ? RecordFlag.Zero : 0;
    external[i] = zero ? 0 : 1;
    encodeRecordHeaderInto(header, { type: RecordType.Write, diskId: fields[f]!, seq: fields[f + 1]!, timeUs: fields[f + 2]!, a: fields[f + 3]!, b: fields[f + 4]!, c: 0, flags: flags[i]!, storedLength: zero ? 0 : fields[f + 4]! });
    stampChecksum(header, zero ? EMPTY : piece);
  }
  return { bytes, sizes, flags, external, data: EMPTY };
}

const EMPTY = Buffer.alloc(0);
