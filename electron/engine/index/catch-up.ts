import { isDriveFull } from '../errors.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import type { Catalog } from '../store/catalog.js';
import type { SegmentFiles } from '../store/segment-file.js';
import { WriterLock } from '../store/writer-lock.js';
import { IndexDb } from './index-db.js';
import { replaySegments, type ReplayProgress, type ReplayResult } from './replay.js';

/**
 * Bringing the index (a cache) up to the segments and catalog (the truth) when an appliance
 * opens. A drive too full for the index file to take the catch-up (a writer stopped by
 * ENOSPC leaves its index behind the segments) does not stop the open: the catch-up goes
 * into a copy of the index in memory, so every point still reads, and a writer can still
 * start to thin, prune or unprotect and make room.
 */

/** What the index of an appliance is a cache of. */
export interface IndexSources {
  dir: string;
  applianceId: string;
  catalog: Catalog;
  files: SegmentFiles;
  codec: PayloadCodec;
}

/**
 * Applies to `index` whatever the segments hold past its watermark. An index built before
 * the last thinning describes segments that are gone: it is started afresh first, as it is
 * when asked (`fresh`: an index that disagrees with the segments).
 */
export function catchUp(index: IndexDb, src: IndexSources, options: CatchUpOptions = {}): ReplayResult {
  if (options.fresh || Number(index.meta('generation') ?? 0) !== src.catalog.state.generation) {
    index.clear();
    index.setMeta('generation', src.catalog.state.generation);
  }
  return replaySegments(src.catalog.state, src.files, index, src.codec, options.onProgress);
}

/**
 * catchUp in one transaction: a reader sees the old index or the new, never an empty or
 * half-built one — that would read as zeros, not as an error.
 */
export function catchUpInOneTransaction(index: IndexDb, src: IndexSources, options: CatchUpOptions = {}): ReplayResult {
  return index.db.transaction(() => catchUp(index, src, options))();
}

/**
 * The way back for a writer whose index is a copy in memory (a full drive): the file is
 * brought up to date in one transaction and `index` takes over its connection. False,
 * with `index` as it was, when the drive still has no room for it.
 */
export function returnIndexToFile(index: IndexDb, src: IndexSources): boolean {
  let file: IndexDb | undefined;
  try {
    file = IndexDb.open(src.dir, src.applianceId, true)!;
    catchUpInOneTransaction(file, src);
  } catch (e) {
    file?.close();
    if (isDriveFull(e)) return false;
    throw e;
  }
  index.takeConnectionOf(file);
  return true;
}

export interface CatchUpOptions {
  /** Start the index afresh (one that disagrees with the segments). */
  fresh?: boolean;
  onProgress?: ReplayProgress;
}

/**
 * A reader with no writer around brings a stale index file up to date itself. Returns the
 * copy in memory it caught up instead when the drive is full, else undefined (the file is
 * current, or a writer holds it and keeps it so).
 */
export function catchUpForReader(src: IndexSources): IndexDb | undefined {
  try {
    const lock = WriterLock.tryAcquire(src.dir, 'chronodisk (index catch-up)');
    if (!(lock instanceof WriterLock)) return undefined;
    try {
      const index = IndexDb.open(src.dir, src.applianceId, true)!;
      try {
        catchUp(index, src);
      } finally {
        index.close();
      }
    } finally {
      lock.release();
    }
    return undefined;
  } catch (e) {
    if (!isDriveFull(e)) throw e;
    return catchUpInMemory(IndexDb.fileImage(src.dir, src.applianceId), src).index;
  }
}

/**
 * The writer's index: the file, or (a drive too full even to open it: SQLite sizes the WAL's
 * shared memory on open) a copy in memory of what the file holds, caught up by startWriter.
 */
export function openWriterIndex(dir: string, applianceId: string): IndexDb {
  try {
    return IndexDb.open(dir, applianceId, true)!;
  } catch (e) {
    if (!isDriveFull(e)) throw e;
    return IndexDb.inMemory(IndexDb.fileImage(dir, applianceId), applianceId);
  }
}

/** The writer's catch-up of its open index: the same index, or (a full drive) a copy in memory that replaces it. */
export function catchUpForWriter(index: IndexDb, src: IndexSources, onProgress?: ReplayProgress): { index: IndexDb; replay: ReplayResult } {
  try {
    return { index, replay: catchUp(index, src, { onProgress }) };
  } catch (e) {
    if (!isDriveFull(e)) throw e;
    const image = IndexDb.imageOf(index.db);
    index.close();
    return catchUpInMemory(image, src, onProgress);
  }
}

function catchUpInMemory(image: Buffer | undefined, src: IndexSources, onProgress?: ReplayProgress): { index: IndexDb; replay: ReplayResult } {
  const copy = IndexDb.inMemory(image, src.applianceId);
  return { index: copy, replay: catchUp(copy, src, { onProgress }) };
}
