/**
 * The NBD wire format (NetworkBlockDevice/nbd doc/proto.md, fixed newstyle): constants and
 * pure encoders/decoders over Buffers. Nothing here touches a socket, so every parser can be
 * fuzzed in-process.
 */

export const NBDMAGIC = Buffer.from('NBDMAGIC', 'latin1');
export const IHAVEOPT = Buffer.from('IHAVEOPT', 'latin1');
export const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// Handshake flags (server) and client flags.
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;
export const CLIENT_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const CLIENT_FLAG_NO_ZEROES = 1 << 1;

// Transmission flags.
export const TF_HAS_FLAGS = 1 << 0;
export const TF_READ_ONLY = 1 << 1;
export const TF_SEND_FLUSH = 1 << 2;
export const TF_SEND_FUA = 1 << 3;
export const TF_SEND_TRIM = 1 << 5;
export const TF_SEND_WRITE_ZEROES = 1 << 6;
export const TF_SEND_DF = 1 << 7;
export const TF_CAN_MULTI_CONN = 1 << 8;
export const TF_SEND_CACHE = 1 << 10;
export const TF_SEND_FAST_ZERO = 1 << 11;

// Options.
export const OPT_EXPORT_NAME = 1;
export const OPT_ABORT = 2;
export const OPT_LIST = 3;
export const OPT_STARTTLS = 5;
export const OPT_INFO = 6;
export const OPT_GO = 7;
export const OPT_STRUCTURED_REPLY = 8;
export const OPT_LIST_META_CONTEXT = 9;
export const OPT_SET_META_CONTEXT = 10;

// Option replies.
export const REP_ACK = 1;
export const REP_SERVER = 2;
export const REP_INFO = 3;
export const REP_META_CONTEXT = 4;
export const REP_ERR_UNSUP = 0x80000001;
export const REP_ERR_POLICY = 0x80000002;
export const REP_ERR_INVALID = 0x80000003;
export const REP_ERR_UNKNOWN = 0x80000006;
export const REP_ERR_SHUTDOWN = 0x80000007;
export const REP_ERR_TOO_BIG = 0x80000009;

// NBD_REP_INFO types.
export const INFO_EXPORT = 0;
export const INFO_NAME = 1;
export const INFO_DESCRIPTION = 2;
export const INFO_BLOCK_SIZE = 3;

// Commands and command flags.
export const CMD_READ = 0;
export const CMD_WRITE = 1;
export const CMD_DISC = 2;
export const CMD_FLUSH = 3;
export const CMD_TRIM = 4;
export const CMD_CACHE = 5;
export const CMD_WRITE_ZEROES = 6;
export const CMD_BLOCK_STATUS = 7;
export const CMD_FLAG_FUA = 1 << 0;
export const CMD_FLAG_NO_HOLE = 1 << 1;
export const CMD_FLAG_DF = 1 << 2;
export const CMD_FLAG_REQ_ONE = 1 << 3;
export const CMD_FLAG_FAST_ZERO = 1 << 4;

// Structured reply chunks.
export const REPLY_FLAG_DONE = 1 << 0;
export const REPLY_TYPE_NONE = 0;
export const REPLY_TYPE_OFFSET_DATA = 1;
export const REPLY_TYPE_OFFSET_HOLE = 2;
export const REPLY_TYPE_BLOCK_STATUS = 5;
export const REPLY_TYPE_ERROR = 0x8001;

// The one metadata context we offer, and its flags.
export const ALLOCATION_CONTEXT = 'base:allocation';
export const STATE_HOLE = 1 << 0;
export const STATE_ZERO = 1 << 1;

// Errors on the wire (proto.md "Error values").
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EOVERFLOW = 75;
export const NBD_ENOTSUP = 95;
export const NBD_ESHUTDOWN = 108;

/** Sizes of fixed-length messages. */
export const CLIENT_FLAGS_BYTES = 4;
export const OPTION_HEADER_BYTES = 16;
export const REQUEST_HEADER_BYTES = 28;
/** Strings (names, descriptions, messages) MUST be no longer than this. */
export const MAX_STRING_BYTES = 4096;

/** The server's first 18 bytes: NBDMAGIC, IHAVEOPT, handshake flags. */
export function encodeGreeting(): Buffer {
  const b = Buffer.alloc(18);
  NBDMAGIC.copy(b, 0);
  IHAVEOPT.copy(b, 8);
  b.writeUInt16BE(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, 16);
  return b;
}

/** Client flags: null when the client set a bit we did not offer (we must then hang up). */
export function parseClientFlags(b: Buffer): { fixedNewstyle: boolean; noZeroes: boolean } | null {
  const flags = b.readUInt32BE(0);
  if ((flags & ~(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES)) !== 0) return null;
  return { fixedNewstyle: (flags & CLIENT_FLAG_FIXED_NEWSTYLE) !== 0, noZeroes: (flags & CLIENT_FLAG_NO_ZEROES) !== 0 };
}

export interface OptionHeader {
  option: number;
  length: number;
}

/** An option header; null on bad magic (the stream cannot be resynchronised). */
export function parseOptionHeader(b: Buffer): OptionHeader | null {
  if (b.compare(IHAVEOPT, 0, 8, 0, 8) !== 0) return null;
  return { option: b.readUInt32BE(8), length: b.readUInt32BE(12) };
}

export interface InfoRequest {
  name: string;
  infos: number[];
}

/** Decodes a string from the wire, or null when it is too long, not UTF-8, or holds NUL. */
export function decodeString(b: Buffer): string | null {
  if (b.length > MAX_STRING_BYTES) return null;
  const s = b.toString('utf8');
  if (s.includes('\u0000') || s.includes('\ufffd') || Buffer.byteLength(s) !== b.length) return null;
  return s;
}

/** NBD_OPT_INFO / NBD_OPT_GO data: null when malformed. */
export function parseInfoRequest(data: Buffer): InfoRequest | null {
  if (data.length < 6) return null;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 6) return null;
  const name = decodeString(data.subarray(4, 4 + nameLength));
  if (name === null) return null;
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 4 + nameLength + 2 + 2 * count) return null;
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(data.readUInt16BE(6 + nameLength + 2 * i));
  return { name, infos };
}

export interface MetaContextRequest {
  name: string;
  queries: string[];
}

/** NBD_OPT_LIST/SET_META_CONTEXT data: null when malformed or holding too many queries. */
export function parseMetaContextRequest(data: Buffer, maxQueries = 128): MetaContextRequest | null {
  if (data.length < 8) return null;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 8) return null;
  const name = decodeString(data.subarray(4, 4 + nameLength));
  if (name === null) return null;
  const count = data.readUInt32BE(4 + nameLength);
  if (count > maxQueries) return null;
  const queries: string[] = [];
  let at = 8 + nameLength;
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return null;
    const n = data.readUInt32BE(at);
    if (n > data.length - at - 4) return null;
    const q = decodeString(data.subarray(at + 4, at + 4 + n));
    if (q === null) return null;
    queries.push(q);
    at += 4 + n;
  }
  return at === data.length ? { name, queries } : null;
}

export function encodeMetaContextReply(option: number, id: number, name: string): Buffer {
  const n = truncatedString(name);
  const data = Buffer.allocUnsafe(4 + n.length);
  data.writeUInt32BE(id, 0);
  n.copy(data, 4);
  return encodeOptionReply(option, REP_META_CONTEXT, data);
}

/** A BLOCK_STATUS chunk: context id, then (length, flags) descriptors. */
export function encodeBlockStatusChunk(cookie: Buffer, contextId: number, descriptors: Array<{ length: number; flags: number }>): Buffer {
  const b = encodeChunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, cookie, 4 + 8 * descriptors.length, 4 + 8 * descriptors.length);
  b.writeUInt32BE(contextId, 20);
  let at = 24;
  for (const d of descriptors) {
    b.writeUInt32BE(d.length, at);
    b.writeUInt32BE(d.flags, at + 4);
    at += 8;
  }
  return b;
}

/** One fixed-newstyle option reply. */
export function encodeOptionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.allocUnsafe(20 + data.length);
  b.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  b.writeUInt32BE(option >>> 0, 8);
  b.writeUInt32BE(type >>> 0, 12);
  b.writeUInt32BE(data.length, 16);
  data.copy(b, 20);
  return b;
}

/** An error reply carrying a human-readable message. */
export function encodeOptionError(option: number, type: number, message: string): Buffer {
  return encodeOptionReply(option, type, truncatedString(message));
}

export function truncatedString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return b.length <= MAX_STRING_BYTES ? b : b.subarray(0, MAX_STRING_BYTES);
}

/** NBD_REP_SERVER for NBD_OPT_LIST: name, then a description for humans. */
export function encodeServerReply(name: string, description: string): Buffer {
  const n = truncatedString(name);
  const d = truncatedString(description);
  const data = Buffer.allocUnsafe(4 + n.length + d.length);
  data.writeUInt32BE(n.length, 0);
  n.copy(data, 4);
  d.copy(data, 4 + n.length);
  return encodeOptionReply(OPT_LIST, REP_SERVER, data);
}

export function encodeInfoExport(option: number, size: number, flags: number): Buffer {
  const data = Buffer.alloc(12);
  data.writeUInt16BE(INFO_EXPORT, 0);
  data.writeBigUInt64BE(BigInt(size), 2);
  data.writeUInt16BE(flags, 10);
  return encodeOptionReply(option, REP_INFO, data);
}

export function encodeInfoString(option: number, info: number, s: string): Buffer {
  const t = truncatedString(s);
  const data = Buffer.allocUnsafe(2 + t.length);
  data.writeUInt16BE(info, 0);
  t.copy(data, 2);
  return encodeOptionReply(option, REP_INFO, data);
}

export function encodeInfoBlockSize(option: number, minimum: number, preferred: number, maximum: number): Buffer {
  const data = Buffer.allocUnsafe(14);
  data.writeUInt16BE(INFO_BLOCK_SIZE, 0);
  data.writeUInt32BE(minimum, 2);
  data.writeUInt32BE(preferred, 6);
  data.writeUInt32BE(maximum, 10);
  return encodeOptionReply(option, REP_INFO, data);
}

/** The reply that ends a handshake by NBD_OPT_EXPORT_NAME: size, flags, optional zeroes. */
export function encodeExportNameReply(size: number, flags: number, noZeroes: boolean): Buffer {
  const b = Buffer.alloc(noZeroes ? 10 : 134);
  b.writeBigUInt64BE(BigInt(size), 0);
  b.writeUInt16BE(flags, 8);
  return b;
}

export interface RequestHeader {
  flags: number;
  type: number;
  /** The client's opaque 8-byte cookie, echoed in every reply. */
  cookie: Buffer;
  /** Exact below 2^53; beyond that, merely "too large", which every range check rejects. */
  offset: number;
  length: number;
}

/** A transmission request header; null on bad magic (we must then hang up). */
export function parseRequestHeader(b: Buffer): RequestHeader | null {
  if (b.readUInt32BE(0) !== REQUEST_MAGIC) return null;
  return {
    flags: b.readUInt16BE(4),
    type: b.readUInt16BE(6),
    cookie: Buffer.from(b.subarray(8, 16)),
    offset: b.readUInt32BE(16) * 0x1_0000_0000 + b.readUInt32BE(20),
    length: b.readUInt32BE(24),
  };
}

export function encodeRequestHeader(h: { flags: number; type: number; cookie: Buffer; offset: number; length: number }): Buffer {
  const b = Buffer.alloc(REQUEST_HEADER_BYTES);
  b.writeUInt32BE(REQUEST_MAGIC, 0);
  b.writeUInt16BE(h.flags, 4);
  b.writeUInt16BE(h.type, 6);
  h.cookie.copy(b, 8, 0, 8);
  b.writeBigUInt64BE(BigInt(h.offset), 16);
  b.writeUInt32BE(h.length, 24);
  return b;
}

export function encodeSimpleReply(error: number, cookie: Buffer): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  b.writeUInt32BE(error, 4);
  cookie.copy(b, 8, 0, 8);
  return b;
}

/** A structured chunk header (20 bytes) plus `extra` bytes of room for the fixed payload. */
export function encodeChunkHeader(flags: number, type: number, cookie: Buffer, length: number, extra = 0): Buffer {
  const b = Buffer.allocUnsafe(20 + extra);
  b.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  b.writeUInt16BE(flags, 4);
  b.writeUInt16BE(type, 6);
  cookie.copy(b, 8, 0, 8);
  b.writeUInt32BE(length, 16);
  return b;
}

/** OFFSET_DATA header (chunk header + 8-byte offset); the data follows separately. */
export function encodeDataChunkHeader(cookie: Buffer, offset: number, dataLength: number, done: boolean): Buffer {
  const b = encodeChunkHeader(done ? REPLY_FLAG_DONE : 0, REPLY_TYPE_OFFSET_DATA, cookie, 8 + dataLength, 8);
  b.writeBigUInt64BE(BigInt(offset), 20);
  return b;
}

/** Bytes before a READ's data in its reply: an OFFSET_DATA chunk header, or a simple reply. */
export function dataReplyHeaderBytes(structured: boolean): number {
  return structured ? 28 : 16;
}

/**
 * Writes the header of a READ reply that carries all its data at `b[0, dataReplyHeaderBytes)`,
 * the data following in the same buffer: one buffer per reply, one socket write.
 */
export function writeDataReplyHeader(b: Buffer, structured: boolean, cookie: Buffer, offset: number, dataLength: number): void {
  if (!structured) {
    b.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
    b.writeUInt32BE(0, 4);
    cookie.copy(b, 8, 0, 8);
    return;
  }
  b.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  b.writeUInt16BE(REPLY_FLAG_DONE, 4);
  b.writeUInt16BE(REPLY_TYPE_OFFSET_DATA, 6);
  cookie.copy(b, 8, 0, 8);
  b.writeUInt32BE(8 + dataLength, 16);
  b.writeUInt32BE(Math.floor(offset / 0x1_0000_0000), 20);
  b.writeUInt32BE(offset >>> 0, 24);
}

export function encodeHoleChunk(cookie: Buffer, offset: number, length: number, done: boolean): Buffer {
  const b = encodeChunkHeader(done ? REPLY_FLAG_DONE : 0, REPLY_TYPE_OFFSET_HOLE, cookie, 12, 12);
  b.writeBigUInt64BE(BigInt(offset), 20);
  b.writeUInt32BE(length, 28);
  return b;
}

export function encodeNoneChunk(cookie: Buffer): Buffer {
  return encodeChunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_NONE, cookie, 0);
}

export function encodeErrorChunk(cookie: Buffer, error: number, message: string): Buffer {
  const m = truncatedString(message);
  const b = encodeChunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_ERROR, cookie, 6 + m.length, 6 + m.length);
  b.writeUInt32BE(error, 20);
  b.writeUInt16BE(m.length, 24);
  m.copy(b, 26);
  return b;
}
