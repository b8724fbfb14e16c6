import { xxh64 } from '@node-rs/xxhash';
import type { RateLimiter } from '../devices/io-priority.js';
import { isAllZero } from '../format/payload-codec.js';
import type { TimeImage } from '../time-image.js';
import type { Extent } from '../timeline.js';
import { alignedBuffer } from '../devices/aligned-buffer.js';
import { throwIfCancelled } from '../errors.js';
import type { RestoreTarget } from './restore-target.js';

export const CHUNK = 4 * 1024 * 1024;
/** How much may be written before it is made durable and the journal's watermark moves. */
const SYNC_BYTES = 64 * 1024 * 1024;
const SYNC_MS = 1000;

export interface StreamOptions {
  /** Plan bytes already durable on the target (a resumed job): not written again. */
  startAt?: number;
  /** Leave holes for all-zero chunks (a freshly truncated image file). */
  skipZeroChunks?: boolean;
  limiter?: RateLimiter;
  /**
   * Sees every chunk of the plan, written or not (the restore point is built from them);
   * `data` is reused once it returns. Awaited: it may hold the stream back.
   */
  onChunk?: (offset: number, data: Buffer) => void | Promise<void>;
  onProgress?: (done: number, total: number) => void;
  /** Everything before `watermark` (plan order) is durable on the target. */
  onDurable?: (watermark: number) => void;
  /** Stops between chunks, after making what was written durable (the journal says how far). */
  signal?: AbortSignal;
}

/** Splits extents into (offset, length, planPosition) chunks of at most CHUNK bytes. */
export function* chunksOf(extents: Extent[], chunk = CHUNK): Generator<{ offset: number; length: number; plan: number }> {
  let plan = 0;
  for (const e of extents) {
    for (let at = e.offset; at < e.offset + e.length; at += chunk) {
      const length = Math.min(chunk, e.offset + e.length - at);
      yield { offset: at, length, plan };
      plan += length;
    }
  }
}

export interface StreamResult {
  /** Bytes written in this run (less than the plan when resuming or leaving holes). */
  written: number;
  /** xxh64 of each chunk's image bytes, where this run read them: verification compares against these. */
  chunkHashes: Array<bigint | undefined>;
}

/**
 * Writes the image's bytes over `extents` of the target, in order. Reading the next chunk
 * from the image overlaps the write of the previous one.
 */
export async function streamExtents(image: TimeImage, extents: Extent[], target: RestoreTarget, options: StreamOptions = {}): Promise<StreamResult> {
  const total = extents.reduce((n, e) => n + e.length, 0);
  const startAt = options.startAt ?? 0;
  // Page-aligned, so the target may write them with O_DIRECT.
  const buffers = [alignedBuffer(CHUNK), alignedBuffer(CHUNK)];
  let pending: Promise<void> | undefined;
  let written = 0;
  let sinceSync = 0;
  let lastSync = performance.now();
  let i = 0;
  const chunkHashes: Array<bigint | undefined> = [];
  const durable = async (watermark: number) => {
    await pending;
    pending = undefined;
    await target.sync();
    options.onDurable?.(watermark);
    sinceSync = 0;
    lastSync = performance.now();
  };
  for (const c of chunksOf(extents)) {
    if (options.signal?.aborted) {
      await durable(c.plan);
      throwIfCancelled(options.signal);
    }
    // The other buffer may still be in flight: fill this one (switch only after a write).
    const buf = buffers[i % 2]!.subarray(0, c.length);
    const already = c.plan + c.length <= startAt;
    if (already && !options.onChunk) {
      chunkHashes.push(undefined);
      continue;
    }
    image.readInto(buf, c.offset);
    chunkHashes.push(xxh64(buf));
    await options.onChunk?.(c.offset, buf);
    if (!already && !(options.skipZeroChunks && isAllZero(buf))) {
      await options.limiter?.take(c.length);
      await pending; // the other buffer is free again once its write is done
      pending = target.write(buf, c.offset, true);
      i++;
      pending.catch(() => undefined); // it is awaited below; until then a failure must not count as unhandled
      written += c.length;
      sinceSync += c.length;
    }
    options.onProgress?.(c.plan + c.length, total);
    if (sinceSync >= SYNC_BYTES || (sinceSync > 0 && performance.now() - lastSync >= SYNC_MS)) await durable(c.plan + c.length);
  }
  await durable(total);
  return { written, chunkHashes };
}
