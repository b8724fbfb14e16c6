import { createHash } from 'node:crypto';
import { xxh64 } from '@node-rs/xxhash';
import { ChronodiskError } from '../errors.js';
import type { TimeImage } from '../time-image.js';
import type { Extent } from '../timeline.js';
import { chunksOf, CHUNK } from './extent-stream.js';
import type { RestoreTarget } from './restore-target.js';

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
  opts: { chunkHashes?: Array<bigint | undefined>; onProgress?: (done: number, total: number) => void } = {},
): Promise<VerifyResult> {
  await target.dropCache();
  const total = extents.reduce((n, e) => n + e.length, 0);
  const expected = Buffer.allocUnsafeSlow(CHUNK);
  const got = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
  const hash = createHash('sha256');
  const chunks = [...chunksOf(extents)];
  // The next read is in flight while this chunk is compared.
  let next = chunks.length ? target.read(got[0]!.subarray(0, chunks[0]!.length), chunks[0]!.offset) : undefined;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    await next;
    const back = got[i % 2]!.subarray(0, c.length);
    const n = chunks[i + 1];
    next = n ? target.read(got[(i + 1) % 2]!.subarray(0, n.length), n.offset) : undefined;
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
        `verification failed: ${target.path} differs from point ${image.seq} at byte ${c.offset + at}; the disk may be failing — run the restore again, or restore onto another disk`,
      );
    }
    hash.update(back);
    opts.onProgress?.(c.plan + c.length, total);
  }
  return { bytesVerified: total, sha256: hash.digest('hex') };
}
