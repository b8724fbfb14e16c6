import type { Appliance } from '../appliance.js';
import { withFrozen } from '../devices/freeze.js';
import { mountsOf } from '../devices/mounts.js';
import { WriteTracker, type TrackerEvent } from '../devices/write-tracker.js';
import type { RateLimiter } from '../devices/io-priority.js';
import { throwIfCancelled } from '../errors.js';
import { CommitFlag } from '../format/constants.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { PointInfo } from '../timeline.js';
import { BlockHashes } from './block-hashes.js';
import { blockHash, ChangedBlocks, type ChangeSink } from './changed-blocks.js';
import { probeProtectedSource } from './source-check.js';
import { SourceReader } from './source-reader.js';
import { coalesce, type ByteRange } from './ranges.js';
import { checkLabel } from '../labels.js';

/** Reads of 8 MiB (a multiple of every block size), two in flight while one is hashed. */
const READ_CHUNK = 8 * 1024 * 1024;
const READS_AHEAD = 2;
/**
 * Chunks lent to the writer beyond those: changed blocks go to the encoder threads and
 * the segment straight from the read memory (no copy on the event loop), so a chunk's
 * memory is read into again only once its records are written.
 */
const LENT_CHUNKS = 4;

export interface ScanProgress {
  phase: 'hash' | 'read' | 'catch-up' | 'commit';
  done: number;
  total: number;
}

export interface ScanResult {
  point: PointInfo;
  bytesRead: number;
  /** Bytes the pass added to the appliance (after compression). */
  bytesStored: number;
  /** Logical bytes of the blocks that changed. */
  bytesChanged: number;
  seconds: number;
  frozen: boolean;
  /** Nothing changed and no point was made; `point` is the latest one. */
  unchanged?: boolean;
}

export interface ScanOptions {
  onProgress?: (p: ScanProgress) => void;
  /** Freeze a mounted filesystem at the end of the pass (default: when root). */
  freeze?: boolean;
  label?: string;
  /** Throttles reads (capture I/O can be limited so the workstation stays responsive). */
  limiter?: RateLimiter;
  /** Commit even when nothing changed (an explicit capture); a background pass skips it. */
  commitUnchanged?: boolean;
  /** Cancels the pass between chunks (its batch is dropped: no point). */
  signal?: AbortSignal;
}

/**
 * One scan pass: read the whole source, hash fixed blocks, store the blocks whose hash
 * differs from the appliance's latest point, and commit them as one point. The first pass
 * is the baseline copy. Over a mounted filesystem (as root) the pass ends with a short
 * freeze in which the blocks written during the pass are read again, so the point is
 * crash-consistent; the kernel's block tracepoint names those blocks where it can, else
 * the whole source is hashed again while frozen.
 */
export async function scanPass(app: Appliance, disk: DiskRecord, options: ScanOptions = {}): Promise<ScanResult> {
  const started = performance.now();
  if (options.label !== undefined) checkLabel(options.label, 'point'); // before reading a byte
  const info = await probeProtectedSource(disk);
  const blockSize = disk.blockSize;
  const count = Math.ceil(disk.size / blockSize);
  const latest = app.timeline.latest(disk);
  const old = await previousHashes(app, disk, latest?.seq, count, options);
  const fresh = new BigUint64Array(count);
  const mounted = info.kind === 'file' ? [] : mountsOf(info.realPath).filter((m) => m.mountPoint !== '[SWAP]');
  const canFreeze = mounted.length > 0 && (options.freeze ?? process.getuid?.() === 0);

  const tracked: ByteRange[] = [];
  let tracker: WriteTracker | undefined;
  let trackerLost = false;
  if (canFreeze) {
    tracker = await WriteTracker.start(info, {
      name: `scan-${disk.name}`,
      onEvents: (events: TrackerEvent[]) => {
        for (const e of events) {
          if (e.kind === 'write') tracked.push({ offset: e.offset, length: e.length });
          else if (e.kind === 'lost') trackerLost = true;
        }
      },
      onError: () => (trackerLost = true),
    }).catch(() => undefined);
  }

  const reader = await SourceReader.open(info.realPath, disk.size);
  if (info.kind !== 'file') await SourceReader.dropDeviceCache(info.realPath);
  const batch = app.beginBatch(disk);
  const appendedBefore = app.bytesAppended;
  let bytesRead = 0;
  let bytesChanged = 0;
  let frozen = false;

  const lender: ChangeSink = { write: (offset, data) => batch.lend(offset, data), writeZeroes: (offset, length) => batch.writeZeroes(offset, length) };
  const lending = { released: () => batch.released(), spare: LENT_CHUNKS };
  const changes = new ChangedBlocks(blockSize, lender);
  try {
    for await (const [at, buf] of reader.chunks([{ offset: 0, length: disk.size }], READ_CHUNK, READS_AHEAD, lending)) {
      throwIfCancelled(options.signal);
      await options.limiter?.take(buf.length);
      bytesChanged += changes.absorb(at, buf, fresh, old?.hashes);
      bytesRead += buf.length;
      // The encoder threads take the writes; waiting here bounds the bytes in flight.
      await batch.drained();
      options.onProgress?.({ phase: 'read', done: at + buf.length, total: disk.size });
    }
    changes.finish();
    let point: PointInfo;
    const commit = (flags: number) => batch.commit({ flags: CommitFlag.ScanPass | flags, label: options.label });
    if (canFreeze) {
      point = await withFrozen(mounted[0]!.mountPoint, async () => {
        frozen = true;
        // Frozen: the filesystem has written everything back. Read again what changed meanwhile.
        await SourceReader.dropDeviceCache(info.realPath);
        const again = tracker && !trackerLost ? await settledRanges(tracker, tracked, blockSize, disk.size) : [{ offset: 0, length: disk.size }];
        for await (const [at, buf] of reader.chunks(again, READ_CHUNK, READS_AHEAD, lending)) {
          bytesChanged += changes.absorb(at, buf, fresh, fresh);
          bytesRead += buf.length;
          await batch.drained();
          options.onProgress?.({ phase: 'catch-up', done: at + buf.length, total: disk.size });
        }
        changes.finish();
        return commit(CommitFlag.CrashConsistent);
      });
    } else if (bytesChanged === 0 && latest && options.commitUnchanged === false) {
      batch.abort();
      return { point: latest, bytesRead, bytesStored: 0, bytesChanged: 0, seconds: (performance.now() - started) / 1000, frozen, unchanged: true };
    } else {
      // An unmounted device or an image file nobody writes to is consistent as read.
      point = await commit(mounted.length === 0 && info.kind !== 'file' ? CommitFlag.CrashConsistent : 0);
    }
    new BlockHashes(point.seq, blockSize, fresh).save(app.dir, disk.id);
    return { point, bytesRead, bytesStored: app.bytesAppended - appendedBefore, bytesChanged, seconds: (performance.now() - started) / 1000, frozen };
  } catch (e) {
    batch.abort();
    throw e;
  } finally {
    await reader.close();
    await tracker?.stop();
  }
}

/** Takes every write the kernel completed so far (the freeze flushed them), as block-aligned ranges. */
async function settledRanges(tracker: WriteTracker, tracked: ByteRange[], blockSize: number, size: number): Promise<ByteRange[]> {
  await tracker.drain();
  return coalesce(tracked, blockSize, size);
}

/** The hashes of the latest point: the cache when it is current, else computed from the image. */
async function previousHashes(app: Appliance, disk: DiskRecord, seq: number | undefined, count: number, options: ScanOptions): Promise<BlockHashes | undefined> {
  if (seq === undefined) return undefined;
  const cached = BlockHashes.load(app.dir, disk.id, disk.blockSize, count);
  if (cached && cached.seq === seq) return cached;
  const image = app.image(disk, seq);
  const hashes = new BigUint64Array(count);
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  for (let at = 0; at < disk.size; at += READ_CHUNK) {
    throwIfCancelled(options.signal);
    const part = buf.subarray(0, Math.min(READ_CHUNK, disk.size - at));
    image.readInto(part, at);
    for (let off = 0; off < part.length; off += disk.blockSize) hashes[(at + off) / disk.blockSize] = blockHash(part.subarray(off, Math.min(part.length, off + disk.blockSize)));
    options.onProgress?.({ phase: 'hash', done: at + part.length, total: disk.size });
  }
  return new BlockHashes(seq, disk.blockSize, hashes);
}

