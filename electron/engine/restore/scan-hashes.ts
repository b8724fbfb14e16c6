import { xxh64 } from '@node-rs/xxhash';
import type { Appliance } from '../appliance.js';
import { BlockHashes } from '../capture/block-hashes.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { Extent, PointInfo } from '../timeline.js';

/**
 * Moves the scan pass's block-hash cache from the up-to-date point to the restore point,
 * rehashing only the blocks the restore wrote. Without it the next scan pass would rehash
 * the whole image from the appliance. A cache for any other point is left alone.
 */
export function refreshScanHashes(app: Appliance, disk: DiskRecord, fromSeq: number, restorePoint: PointInfo, extents: Extent[]): void {
  if (restorePoint.seq === fromSeq) return;
  const count = Math.ceil(disk.size / disk.blockSize);
  const cached = BlockHashes.load(app.dir, disk.id, disk.blockSize, count);
  if (!cached || cached.seq !== fromSeq) return;
  const image = app.image(disk, restorePoint.seq);
  const block = Buffer.allocUnsafe(disk.blockSize);
  let last = -1;
  for (const e of extents) {
    const first = Math.max(last + 1, Math.floor(e.offset / disk.blockSize));
    const end = Math.ceil((e.offset + e.length) / disk.blockSize);
    for (let i = first; i < end; i++) {
      const at = i * disk.blockSize;
      const part = block.subarray(0, Math.min(disk.blockSize, disk.size - at));
      image.readInto(part, at);
      cached.hashes[i] = xxh64(part);
      last = i;
    }
  }
  new BlockHashes(restorePoint.seq, disk.blockSize, cached.hashes).save(app.dir, disk.id);
}
