import { createHash } from 'node:crypto';
import { xxh64 } from '@node-rs/xxhash';
import { ChronodiskError, throwIfCancelled } from '../errors.js';
import type { TimeImage } from '../time-image.js';
import type { Extent } from '../timeline.js';
import { chunksOf, CHUNK } from './extent-stream.js';
import type { RestoreTarget } from './restore-target.js';
import { DirectReader } from './direct-reader.js';

export interface VerifyOptions {
  chunkHashes?: Array<bigint | undefined>;
  onProgress?: (done: number, total: number) => void;
  /** Stops between chunks (nothing is written while verifying). */
  signal?: AbortSignal;
}

export interface VerifyResult {
  bytesVerified: number;
  /** sha256 of the bytes read back, in extent order (for a whole-disk copy: of the whole target). */
  sha256: string;
}

/**
 * Reads `extents` back from the target (its cache dropped first, so the disk answers) and
 * compares every chunk with the image — with the hash the write phase took of it where
 * there is one, so the image is not read twice. The first difference is an error naming its offset.
 */
export async function verifyExtents(
  image: TimeImage,
  extents: Extent[],
  target: RestoreTarget,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const total = extents.reduce((n, e) => n + e.length, 0);
  const direct = await DirectReader.open(target.path, image.size, CHUNK);
  // Without O_DIRECT, drop the device's cache so the disk answers (an image file: the page cache does).
  if (!direct) await target.dropCache();
  const got = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
  const readBack = (i: number, offset: number, length: number): Promise<Buffer> => {
    if (direct) return direct.read(offset, length);
    const into = got[i % 2]!.subarray(0, length);
    return target.read(into, offset).then(() => into);
  };
  try {
    return await compareChunks(image, extents, total, readBack, target.path, opts);
  } finally {
    direct?.close();
  }
}

async function compareChunks(
  image: TimeImage,
  extents: Extent[],
  total: number,
  readBack: (i: number, offset: number, length: number) => Promise<Buffer>,
  path: string,
  opts: VerifyOptions,
): Promise<VerifyResult> {
  const expected = Buffer.allocUnsafeSlow(CHUNK);
  const hash = createHash('sha256');
  const chunks = [...chunksOf(extents)];
  // The next read is in flight while this chunk is compared.
  let next = chunks.length ? readBack(0, chunks[0]!.offset, chunks[0]!.length) : undefined;
  for (let i = 0; i < chunks.length; i++) {
    if (opts.signal?.aborted) {
      await next?.catch(() => undefined);
      throwIfCancelled(opts.signal);
    }
    const c = chunks[i]!;
    const back = (await next)!;
    const n = chunks[i + 1];
    next = n ? readBack(i + 1, n.offset, n.length) : undefined;
    next?.catch(() => undefined);
    const want = expected.subarray(0, c.length);
    const known = opts.chunkHashes?.[i];
    const same = known !== undefined ? xxh64(back) === known : (image.readInto(want, c.offset), back.equals(want));
    if (!same) {
      if (known !== undefined) image.readInto(want, c.offset);
      await next?.catch(() => undefined);
      let at = 0;
      while (at < c.length && back[at] === want[at]) at++;
      throw new ChronodiskError(
        'damaged',
        `verification failed: ${path} differs from point ${image.seq} at byte ${c.offset + at}; the disk may be failing — run the restore again, or restore onto another disk`,
      );
    }
    hash.update(back);
    opts.onProgress?.(c.plan + c.length, total);
  }
  return { bytesVerified: total, sha256: hash.digest('hex') };
}
