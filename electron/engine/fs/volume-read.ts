import type { BlockSource } from '../block-source.js';
import { damaged } from '../errors.js';

/**
 * Reads [offset, offset + length) of a volume after checking it against the volume's size,
 * so that a number taken from a damaged disk turns into a one-line 'damaged' error naming
 * `what` instead of a RangeError deep inside a source.
 */
export function readVolume(src: BlockSource, offset: number, length: number, what: string): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    return Promise.reject(damaged(`${what}: bytes ${offset}+${length} lie outside the ${src.size}-byte volume`));
  }
  return src.read(offset, length);
}
