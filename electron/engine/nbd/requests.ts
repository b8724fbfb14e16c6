/**
 * The transmission phase, one request at a time: validate a request against the export and
 * what was negotiated, run it, and encode the reply. Knows nothing of sockets.
 */
import { isChronodiskError } from '../errors.js';
import { ExportError } from './export.js';
import { HEADROOM, sharedPool } from './buffer-pool.js';
import type { Transmission } from './negotiation.js';
import * as P from './protocol.js';

const ZERO_CHUNK = 1 << 20;
let zeroes: Buffer | undefined;
/** A shared, never-written buffer of zeroes for emulating WRITE_ZEROES by writes. */
function zeroBuffer(): Buffer {
  return (zeroes ??= Buffer.alloc(ZERO_CHUNK));
}

const FLAGS_ALLOWED: Record<number, number> = {
  [P.CMD_READ]: P.CMD_FLAG_FUA | P.CMD_FLAG_DF,
  [P.CMD_WRITE]: P.CMD_FLAG_FUA,
  [P.CMD_FLUSH]: P.CMD_FLAG_FUA,
  [P.CMD_TRIM]: P.CMD_FLAG_FUA,
  [P.CMD_CACHE]: P.CMD_FLAG_FUA,
  [P.CMD_WRITE_ZEROES]: P.CMD_FLAG_FUA | P.CMD_FLAG_NO_HOLE | P.CMD_FLAG_FAST_ZERO,
  [P.CMD_BLOCK_STATUS]: P.CMD_FLAG_FUA | P.CMD_FLAG_REQ_ONE,
};

/** Servers SHOULD NOT send more descriptors than this in one chunk. */
const MAX_DESCRIPTORS = 1 << 20;

export interface Refusal {
  errno: number;
  message: string;
}

/** Checks a request before any work (and before its payload is used); null when it may run. */
export function validateRequest(h: P.RequestHeader, t: Transmission): Refusal | null {
  const exp = t.export;
  const allowed = FLAGS_ALLOWED[h.type];
  if (allowed === undefined) return { errno: P.NBD_EINVAL, message: `unknown command ${h.type}` };
  if ((h.flags & ~allowed) !== 0) return { errno: P.NBD_EINVAL, message: `command ${h.type} does not take flags 0x${h.flags.toString(16)}` };
  if ((h.flags & P.CMD_FLAG_DF) !== 0 && !t.structured) return { errno: P.NBD_EINVAL, message: 'DF needs structured replies' };
  const writes = h.type === P.CMD_WRITE || h.type === P.CMD_WRITE_ZEROES || h.type === P.CMD_TRIM;
  if (writes && (exp.readOnly || !exp.write)) return { errno: P.NBD_EPERM, message: 'this export is read-only' };
  if (h.type === P.CMD_FLUSH) {
    return h.offset === 0 && h.length === 0 ? null : { errno: P.NBD_EINVAL, message: 'FLUSH takes no offset or length' };
  }
  if (h.type === P.CMD_TRIM && !exp.trim) return { errno: P.NBD_EINVAL, message: 'this export does not support TRIM' };
  if (h.type === P.CMD_BLOCK_STATUS) {
    if (!t.allocationContext) return { errno: P.NBD_EINVAL, message: 'BLOCK_STATUS needs base:allocation selected for this export' };
    if (h.length === 0) return { errno: P.NBD_EINVAL, message: 'BLOCK_STATUS of zero bytes' };
  }
  if ((h.type === P.CMD_READ || h.type === P.CMD_WRITE) && h.length > t.maxPayload) {
    const errno = h.type === P.CMD_READ && t.structured ? P.NBD_EOVERFLOW : P.NBD_EINVAL;
    return { errno, message: `request of ${h.length} bytes exceeds the ${t.maxPayload}-byte maximum` };
  }
  if (h.offset + h.length > exp.size) {
    const errno = h.type === P.CMD_WRITE || h.type === P.CMD_WRITE_ZEROES ? P.NBD_ENOSPC : P.NBD_EINVAL;
    return { errno, message: `${h.length} bytes at ${h.offset} run past the end of the ${exp.size}-byte export` };
  }
  if (t.minBlock > 1 && (h.offset % t.minBlock !== 0 || h.length % t.minBlock !== 0)) {
    return { errno: P.NBD_EINVAL, message: `request is not aligned to the ${t.minBlock}-byte block size` };
  }
  return null;
}

/** The wire errno for an error an export threw. */
export function nbdErrno(e: unknown): number {
  if (e instanceof RangeError) return P.NBD_EINVAL;
  if (isChronodiskError(e)) {
    if (e.code === 'no-space') return P.NBD_ENOSPC;
    if (e.code === 'permission' || e.code === 'refused') return P.NBD_EPERM;
    return P.NBD_EIO;
  }
  const code = e instanceof ExportError ? e.code : (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EPERM':
    case 'EACCES':
    case 'EROFS':
      return P.NBD_EPERM;
    case 'ENOSPC':
    case 'SQLITE_FULL':
    case 'EDQUOT':
    case 'EFBIG':
      return P.NBD_ENOSPC;
    case 'EINVAL':
      return P.NBD_EINVAL;
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
      return P.NBD_ENOTSUP;
    default:
      return P.NBD_EIO;
  }
}

/** The reply to a refused or failed request, in the form the connection negotiated. */
export function errorReply(h: P.RequestHeader, t: { structured: boolean }, errno: number, message: string): Buffer[] {
  return t.structured ? [P.encodeErrorChunk(h.cookie, errno, message)] : [P.encodeSimpleReply(errno, h.cookie)];
}

/** A reply's buffers, and what to call once they have been sent (to recycle a read buffer). */
export interface Reply {
  chunks: Buffer[];
  sent?: () => void;
}

/** Runs a validated request; resolves to its reply (never rejects). */
export async function runRequest(h: P.RequestHeader, payload: Buffer | Buffer[] | undefined, t: Transmission): Promise<Reply> {
  try {
    if (h.type === P.CMD_READ) return await read(h, t);
    if (h.type === P.CMD_BLOCK_STATUS) return { chunks: [await blockStatus(h, t)] };
    return { chunks: await run(h, payload, t) };
  } catch (e) {
    return { chunks: errorReply(h, t, nbdErrno(e), e instanceof Error ? e.message : String(e)) };
  }
}

/**
 * True when READ `h` can be answered at once (readNow): the export reads synchronously and
 * the reply is one data chunk (no holes to split out).
 */
export function canReadNow(h: P.RequestHeader, t: Transmission): boolean {
  const exp = t.export;
  return h.type === P.CMD_READ && h.length > 0 && exp.readIntoSync !== undefined && (!t.structured || !exp.readExtents || (h.flags & P.CMD_FLAG_DF) !== 0);
}

/**
 * A validated READ answered synchronously: the data is read into a recycled buffer right
 * after room for the reply header, so the reply leaves in one write while the bytes are
 * still in the CPU's cache, and no promise is made per request.
 */
export function readNow(h: P.RequestHeader, t: Transmission): Reply {
  // The data starts HEADROOM bytes in, its header just before it: the record reader then
  // finds room before the first record's payload to checksum it in one call.
  const head = P.dataReplyHeaderBytes(t.structured);
  const buf = sharedPool.take(HEADROOM + h.length);
  try {
    t.export.readIntoSync!(h.offset, buf.subarray(HEADROOM));
  } catch (e) {
    sharedPool.give(buf);
    return { chunks: errorReply(h, t, nbdErrno(e), e instanceof Error ? e.message : String(e)) };
  }
  const reply = buf.subarray(HEADROOM - head);
  P.writeDataReplyHeader(reply, t.structured, h.cookie, h.offset, h.length);
  return { chunks: [reply], sent: () => sharedPool.give(buf) };
}

async function run(h: P.RequestHeader, payload: Buffer | Buffer[] | undefined, t: Transmission): Promise<Buffer[]> {
  const exp = t.export;
  const fua = (h.flags & P.CMD_FLAG_FUA) !== 0;
  switch (h.type) {
    case P.CMD_WRITE:
      if (h.length === 0) break;
      if (Array.isArray(payload)) await exp.writev!(h.offset, payload, fua);
      else await exp.write!(h.offset, payload!, fua);
      break;
    case P.CMD_FLUSH:
      await exp.flush?.();
      break;
    case P.CMD_TRIM:
      if (h.length > 0) await exp.trim!(h.offset, h.length, fua);
      break;
    case P.CMD_WRITE_ZEROES:
      if (h.length > 0) await zero(h, t, fua);
      break;
    case P.CMD_CACHE:
      break; // a hint; page cache and the OS do the caching
  }
  return t.structured ? [P.encodeNoneChunk(h.cookie)] : [P.encodeSimpleReply(0, h.cookie)];
}

async function read(h: P.RequestHeader, t: Transmission): Promise<Reply> {
  const exp = t.export;
  if (h.length === 0) return { chunks: [t.structured ? P.encodeNoneChunk(h.cookie) : P.encodeSimpleReply(0, h.cookie)] };
  const dontFragment = (h.flags & P.CMD_FLAG_DF) !== 0;
  if (!t.structured || !exp.readExtents || dontFragment) {
    const { data, sent } = await readWhole(exp, h.offset, h.length);
    const header = t.structured ? P.encodeDataChunkHeader(h.cookie, h.offset, data.length, true) : P.encodeSimpleReply(0, h.cookie);
    return { chunks: [header, data], sent };
  }
  const extents = await exp.readExtents(h.offset, h.length);
  if (extents.length === 0) throw new Error('export returned no extents');
  const out: Buffer[] = [];
  let pos = h.offset;
  for (let i = 0; i < extents.length; i++) {
    const x = extents[i];
    const last = i === extents.length - 1;
    // The chunks must tile the request exactly; an export that gets this wrong fails the read.
    if (x.offset !== pos || x.length <= 0 || (x.data && x.data.length !== x.length)) throw new Error('export returned inconsistent extents');
    pos += x.length;
    if (last && pos !== h.offset + h.length) throw new Error('export returned extents that do not cover the read');
    if (x.data) out.push(P.encodeDataChunkHeader(h.cookie, x.offset, x.data.length, last), x.data);
    else out.push(P.encodeHoleChunk(h.cookie, x.offset, x.length, last));
  }
  return { chunks: out };
}

/** base:allocation for [offset, offset+length): the export's extents, or "all data" when it cannot say. */
async function blockStatus(h: P.RequestHeader, t: Transmission): Promise<Buffer> {
  const exp = t.export;
  const extents = exp.extents ? await exp.extents(h.offset, h.length) : [{ offset: h.offset, length: h.length, zero: false }];
  const descriptors: Array<{ length: number; flags: number }> = [];
  let pos = h.offset;
  for (const x of extents) {
    if (x.offset !== pos || x.length <= 0 || x.length > 0xffff_ffff) throw new Error('export returned inconsistent extents');
    const flags = x.zero ? P.STATE_HOLE | P.STATE_ZERO : 0;
    const last = descriptors[descriptors.length - 1];
    if (last && last.flags === flags && last.length + x.length <= 0xffff_ffff) last.length += x.length;
    else descriptors.push({ length: x.length, flags });
    pos += x.length;
    if (pos >= h.offset + h.length || descriptors.length >= MAX_DESCRIPTORS) break;
  }
  if (descriptors.length === 0) throw new Error('export returned no extents');
  const reply = (h.flags & P.CMD_FLAG_REQ_ONE) !== 0 ? [{ length: Math.min(descriptors[0].length, h.length), flags: descriptors[0].flags }] : descriptors;
  return P.encodeBlockStatusChunk(h.cookie, t.allocationContext!, reply);
}

/** Reads into a recycled buffer when the export can, else takes what read() returns. */
async function readWhole(exp: Transmission['export'], offset: number, length: number): Promise<{ data: Buffer; sent?: () => void }> {
  if (!exp.readInto) {
    const data = await exp.read(offset, length);
    // A short or long buffer would desynchronise the client's stream: fail the request instead.
    if (data.length !== length) throw new Error(`export returned ${data.length} bytes for a ${length}-byte read`);
    return { data };
  }
  const data = sharedPool.take(length);
  try {
    await exp.readInto(offset, data);
  } catch (e) {
    sharedPool.give(data);
    throw e;
  }
  return { data, sent: () => sharedPool.give(data) };
}

async function zero(h: P.RequestHeader, t: Transmission, fua: boolean): Promise<void> {
  const exp = t.export;
  const options = { fua, noHole: (h.flags & P.CMD_FLAG_NO_HOLE) !== 0, fast: (h.flags & P.CMD_FLAG_FAST_ZERO) !== 0 };
  if (exp.zero) return exp.zero(h.offset, h.length, options);
  // No native zeroing: writing zeroes is exactly as slow as a write, so a fast request fails.
  if (options.fast) throw new ExportError('ENOTSUP', 'zeroing is no faster than writing on this export');
  const z = zeroBuffer();
  for (let done = 0; done < h.length; ) {
    const n = Math.min(ZERO_CHUNK, h.length - done);
    await exp.write!(h.offset + done, n === ZERO_CHUNK ? z : z.subarray(0, n), fua && done + n === h.length);
    done += n;
  }
}
