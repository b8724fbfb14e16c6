import { MAX_RECORD_LENGTH } from '../format/constants.js';
import { looksIncompressible } from '../format/incompressible.js';
import { isAllZero } from '../format/payload-codec.js';
import type { EncoderPool } from './encoder-pool.js';
import { WRITE_FIELDS } from './record-encoder.js';

/**
 * Runs: the writes CommitPipeline gathers for one encoder request (or one inline run)
 * before their records are placed — how bytes join a run, and when a run is full.
 */

/** Bytes of writes gathered into one request for an encoder thread… */
const RUN_BYTES = 1024 * 1024;
/**
 * …or of lent bytes (nothing to copy, so nothing gained by starting early): an 8 MiB read
 * makes two requests, one per encoder thread, and each placement one segment write.
 */
const LENT_RUN_BYTES = 4 * 1024 * 1024;
/** …or of given bytes to copy (an NBD write: one run per write, see newRun). */
const GIVEN_RUN_BYTES = 256 * 1024;
/** …or records (zero runs carry no bytes). */
const RUN_RECORDS = 4096;
/** Given pieces shorter than this are stored raw without a look (see runModeFor). */
const MIN_PROBE = 512;

/**
 * How write() takes the caller's bytes: `copy` (into a run buffer of its own), `lent`
 * (shared memory the encoder threads read in place) or `given` (the caller never changes
 * them again, so a raw record is written from them).
 */
export type WriteMode = 'copy' | 'lent' | 'given';

/**
 * What a run does with its writes: `copy` and `lent` go to an encoder thread; `inline`
 * runs hold given bytes that looked incompressible, and zero runs: their records are
 * only headers and a checksum, made on the spot, and the payloads are written from
 * where they are (no copy, no encoder round trip).
 */
export type RunMode = 'copy' | 'lent' | 'inline';

/** Writes gathered for the next encoder request, and the batches (`B`) they belong to. */
export interface PendingRun<B> {
  /** The writes' bytes: copied into a buffer of the run's own, or the caller's shared memory (lent); empty when inline. */
  data: Buffer;
  mode: RunMode;
  /** Inline: each record's given payload (one buffer or several in disk order), which its last field indexes. */
  pieces: Buffer[][];
  /** Bytes of `data` (or `pieces`) the writes use. */
  used: number;
  /** WRITE_FIELDS numbers per write (see EncodeRequest). */
  fields: number[];
  batches: B[];
}

/**
 * The mode for `data` (a number: that many zeros, which join whatever run is open). Given
 * bytes that are all zeros or look incompressible (a byte-histogram probe of 2 KiB, ~4 µs)
 * need no encoder thread on a plain appliance; encrypted, or compressible, they are copied.
 */
export function runModeFor<B>(data: Buffer | number, how: WriteMode, open: PendingRun<B> | undefined, encrypted: boolean): RunMode {
  if (typeof data === 'number') return open?.mode ?? 'inline';
  if (how !== 'given') return how;
  if (encrypted) return 'copy';
  // A short piece (the tail of a socket read) would save a few bytes at best.
  if (data.length < MIN_PROBE) return 'inline';
  return isAllZero(data) || looksIncompressible(data) ? 'inline' : 'copy';
}

/** Whether `data` can join run `r`: lent bytes only a run over the same memory, copies a run with room. */
export function fits<B>(r: PendingRun<B>, data: Buffer, mode: RunMode): boolean {
  if (r.mode !== mode) return false;
  if (mode === 'lent') return r.data.buffer === data.buffer;
  if (mode === 'copy') return r.used + data.length <= r.data.length;
  return true;
}

export function newRun<B>(mode: RunMode, how: WriteMode, data: Buffer | number, encoders: EncoderPool): PendingRun<B> {
  const run = { mode, pieces: [], used: 0, fields: [], batches: [] };
  if (mode === 'lent') return { ...run, data: Buffer.from((data as Buffer).buffer) };
  // Given bytes come one NBD write at a time: a run sized for bulk capture would carry
  // (and, transferred to a thread and back, count as fresh external memory) 4× the bytes.
  const payload = typeof data === 'number' ? 0 : data.length;
  if (mode === 'copy') return { ...run, data: encoders.buffer(Math.max(how === 'given' ? GIVEN_RUN_BYTES : RUN_BYTES, payload)) };
  return { ...run, data: Buffer.alloc(0) };
}

/** Adds one write (its fields and, unless zeros, its bytes) to run `r`. */
export function addWrite<B>(r: PendingRun<B>, batch: B, fields: [diskId: number, seq: number, timeUs: number, offset: number], data: Buffer | number): void {
  let at = -1;
  if (typeof data !== 'number') {
    if (r.mode === 'lent') at = data.byteOffset;
    else if (r.mode === 'copy') at = (data.copy(r.data, r.used), r.used);
    else at = r.pieces.push([data]) - 1;
    r.used += data.length;
  }
  r.fields.push(...fields, typeof data === 'number' ? data : data.length, at);
  r.batches.push(batch);
}

/** Whether run `r` should go to its encoder now. */
export function runFull<B>(r: PendingRun<B>): boolean {
  return r.used >= (r.mode === 'lent' ? LENT_RUN_BYTES : RUN_BYTES) || r.batches.length >= RUN_RECORDS;
}

/** Where run `r`'s last write may grow: its field index, when it is `batch`'s, numbered `lastSeq` and ends at `offset`. */
function growable<B>(r: PendingRun<B> | undefined, batch: B, offset: number, lastSeq: number): number {
  if (!r || r.batches[r.batches.length - 1] !== batch) return -1;
  const f = r.fields.length - WRITE_FIELDS;
  if (r.fields[f + 5]! < 0 || r.fields[f + 1] !== lastSeq || r.fields[f + 3]! + r.fields[f + 4]! !== offset) return -1;
  return f;
}

/**
 * Grows the last gathered write by `data` when it continues it on the disk (and, lent,
 * in memory): sequential small writes become one record (one compression call, one
 * index row). Only the very last write numbered (`lastSeq`) may grow, so no other write's
 * sequence number falls between the two halves and newest-wins still holds.
 */
export function extendLast<B>(r: PendingRun<B> | undefined, batch: B, offset: number, data: Buffer, mode: RunMode, lastSeq: number): boolean {
  // Inline payloads are separate buffers: see topUpInline.
  if (!r || r.mode !== mode || mode === 'inline') return false;
  const f = growable(r, batch, offset, lastSeq);
  if (f < 0) return false;
  const length = r.fields[f + 4]!;
  if (length + data.length > MAX_RECORD_LENGTH) return false;
  if (mode === 'lent' ? data.buffer !== r.data.buffer || r.fields[f + 5]! + length !== data.byteOffset : r.used + data.length > r.data.length) return false;
  if (mode === 'copy') data.copy(r.data, r.used);
  r.used += data.length;
  r.fields[f + 4] = length + data.length;
  return true;
}

/**
 * Adds the head of `data` to the last record of an inline run, as extendLast() does, up
 * to 64 KiB: a given write arrives in socket-sized pieces, and topping up keeps records
 * at 64 KiB (a 256 KiB NBD write: 4 records, not 5). A raw record's payload may be any
 * bytes, so the head needs no look of its own. Returns the bytes taken.
 */
export function topUpInline<B>(r: PendingRun<B> | undefined, batch: B, offset: number, data: Buffer, lastSeq: number): number {
  if (!r || r.mode !== 'inline') return 0;
  const f = growable(r, batch, offset, lastSeq);
  if (f < 0) return 0;
  const take = Math.min(MAX_RECORD_LENGTH - r.fields[f + 4]!, data.length);
  if (take <= 0) return 0;
  r.pieces[r.fields[f + 5]!]!.push(data.subarray(0, take));
  r.fields[f + 4] = r.fields[f + 4]! + take;
  r.used += take;
  return take;
}
