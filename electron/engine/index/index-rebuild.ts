import { Worker } from 'node:worker_threads';
import { errorCodes, isRemedy, type ErrorCode } from '../../../shared/errors.js';
import { ChronodiskError, isIndexDamage } from '../errors.js';
import { builtWorkerScript } from '../worker-script.js';
import { catchUpInOneTransaction, type IndexSources } from './catch-up.js';
import type { IndexDb } from './index-db.js';
import type { ReplayProblem, ReplayProgress } from './replay.js';

/**
 * The index rebuilt inside a running writer without holding its event loop: a worker
 * thread replays the segments into the index file through a connection of its own, in one
 * transaction, while the writer's connection writes nothing (the caller holds the writes).
 * Readers, the writer's own included, see the old index until the new one commits. On a
 * long history the replay takes seconds; the service answers and reports progress meanwhile.
 */

export interface RebuildRequest {
  dir: string;
  applianceId: string;
  /** The data key of an encrypted appliance (commit labels are encrypted). */
  key: Uint8Array | null;
}

export interface RebuildOutcome {
  commits: number;
  writes: number;
  problems: ReplayProblem[];
}

export type RebuildReply =
  | { progress: { step: 'scan' | 'apply'; done: number; total: number } }
  | { done: RebuildOutcome }
  | { error: { message: string; code?: string; remedy?: string } };

/**
 * The writer's index emptied and replayed from the segments: on a thread when it is a file,
 * in line when it is a copy in memory (a full drive: no file another connection could
 * write) or the worker is not built. A file SQLite cannot read (a garbled header) no
 * transaction repairs: it is started again first. The caller holds the writes.
 */
export async function rebuildWriterIndex(index: IndexDb, src: IndexSources, onProgress?: ReplayProgress): Promise<RebuildOutcome> {
  const rebuild = async (): Promise<RebuildOutcome> => {
    const key = src.codec.key ? new Uint8Array(src.codec.key) : null;
    const onThread = index.inMemory ? undefined : rebuildIndexOnThread({ dir: src.dir, applianceId: src.applianceId, key }, onProgress);
    if (onThread) {
      const r = await onThread;
      index.reload();
      return r;
    }
    const r = catchUpInOneTransaction(index, src, { fresh: true, onProgress });
    return { ...index.counts(), problems: r.problems };
  };
  try {
    return await rebuild();
  } catch (e) {
    if (!isIndexDamage(e) || index.inMemory) throw e;
    // Readers that had the old file open keep it until they open again.
    index.startFileAfresh(src.dir, src.applianceId);
    return await rebuild();
  }
}

/** Runs the rebuild on its thread; undefined when the worker is not built (the caller replays in line). */
function rebuildIndexOnThread(req: RebuildRequest, onProgress?: ReplayProgress): Promise<RebuildOutcome> | undefined {
  const script = builtWorkerScript(import.meta.url, 'index-rebuild-worker.js');
  if (!script) return undefined;
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: req });
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
    };
    worker.on('message', (r: RebuildReply) => {
      if ('progress' in r) onProgress?.(r.progress.step, r.progress.done, r.progress.total);
      else if ('done' in r) settle(() => resolve(r.done));
      else settle(() => reject(errorFrom(r.error)));
    });
    worker.on('error', (e) => settle(() => reject(new ChronodiskError('internal', `the index rebuild thread failed: ${e.message}`))));
    worker.on('exit', (code) => settle(() => reject(new ChronodiskError('internal', `the index rebuild thread exited (code ${code}) before it finished`))));
  });
}

/** The worker's error as the writer would have met it in line: ours with code and remedy, else an errno or SQLite error by its code. */
function errorFrom(e: { message: string; code?: string; remedy?: string }): Error {
  if (e.code && (errorCodes as readonly string[]).includes(e.code)) {
    return new ChronodiskError(e.code as ErrorCode, e.message, isRemedy(e.remedy) ? { remedy: e.remedy } : undefined);
  }
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
}
