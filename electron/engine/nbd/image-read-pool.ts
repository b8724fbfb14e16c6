/**
 * Time-image reads on worker threads, for the NBD export. A time-image read is synchronous
 * CPU work (index lookups, record preads, checksums, copies); on the main thread every
 * pipelined request of every connection waits for it in turn. Here each worker opens the
 * appliance read-only and fills the server's reply buffer in place (shared memory, no
 * copy), so reads run on several cores while the main thread speaks NBD.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../../../shared/errors.js';
import { builtWorkerScript } from '../worker-script.js';
import { ChronodiskError } from '../errors.js';
import type { SparseBlockSource } from './source-export.js';

/** What a worker is started with. */
export interface WorkerSetup {
  dir: string;
  passphrase?: string;
}

/** One read: fill `length` bytes of `buffer` from `byteOffset` with disk@seq's bytes at `offset`. */
export interface ReadJob {
  id: number;
  disk: string;
  seq: number;
  offset: number;
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
}

export interface ReadDone {
  id: number;
  error?: { message: string; code?: ErrorCode };
}

interface Reader {
  worker: Worker;
  alive: boolean;
  pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
}

/** Reads in one span prefer one reader (see run)… */
const AFFINITY_SPAN = 1024 * 1024;
/**
 * …while it has at most this many more reads waiting than the least busy reader. Measured
 * (nbdcopy, 2 readers): 0 served 10–30% faster than 8, which left one reader queued while
 * the other idled, and than no affinity, which looked most windows up twice.
 */
const AFFINITY_SLACK = 0;

const workerFile = builtWorkerScript(import.meta.url, 'image-read-worker.js');

export class ImageReadPool {
  private nextId = 1;
  private closed = false;

  private constructor(private readonly readers: Reader[]) {}

  /**
   * Starts `workers` readers (default: one per core, at most 4), one after another (each
   * opens the index). Undefined when workers cannot run here (the engine is not built to
   * JavaScript, as under a test runner): the caller then reads in-process.
   */
  static async start(setup: WorkerSetup, workers = Math.min(4, availableParallelism())): Promise<ImageReadPool | undefined> {
    if (!workerFile) return undefined;
    const readers: Reader[] = [];
    try {
      for (let i = 0; i < Math.max(1, workers); i++) readers.push(await startReader(setup));
    } catch (e) {
      await Promise.all(readers.map((r) => r.worker.terminate()));
      throw e;
    }
    return new ImageReadPool(readers);
  }

  /** disk@seq (a committed point) as a BlockSource whose reads run on the pool. */
  image(disk: { name: string; size: number }, seq: number): SparseBlockSource {
    const readInto = (out: Buffer, offset: number): Promise<void> => {
      if (offset < 0 || offset + out.length > disk.size) {
        return Promise.reject(new RangeError(`read of ${out.length} bytes at ${offset} is outside ${disk.name} (${disk.size} bytes)`));
      }
      if (out.buffer instanceof SharedArrayBuffer) return this.run(disk.name, seq, offset, out);
      // Not shared memory: read into a shared buffer, then copy.
      const shared = Buffer.from(new SharedArrayBuffer(out.length));
      return this.run(disk.name, seq, offset, shared).then(() => void shared.copy(out));
    };
    return {
      size: disk.size,
      readInto,
      read: async (offset, length) => {
        const out = Buffer.from(new SharedArrayBuffer(length));
        await readInto(out, offset);
        return out;
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.readers.map((r) => r.worker.terminate()));
  }

  private run(disk: string, seq: number, offset: number, out: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new ChronodiskError('busy', 'the image reader is closed'));
    // Reads of one 1 MiB window go to the same reader, which then asks the time map once
    // for them all (TimeImage keeps recent windows) — unless it is busier than the least
    // busy one: a slow read does not hold up the others.
    let r: Reader | undefined;
    for (const x of this.readers) if (x.alive && (!r || x.pending.size < r.pending.size)) r = x;
    const home = this.readers[Math.floor(offset / AFFINITY_SPAN) % this.readers.length]!;
    if (r && home.alive && home.pending.size <= r.pending.size + AFFINITY_SLACK) r = home;
    if (!r) return Promise.reject(new ChronodiskError('io', 'every image reader has stopped; restart chronodisk serve'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      r!.pending.set(id, { resolve, reject });
      const job: ReadJob = { id, disk, seq, offset, buffer: out.buffer as SharedArrayBuffer, byteOffset: out.byteOffset, length: out.length };
      r!.worker.postMessage(job);
    });
  }
}

function startReader(setup: WorkerSetup): Promise<Reader> {
  const worker = new Worker(workerFile!, { workerData: setup });
  const reader: Reader = { worker, alive: true, pending: new Map() };
  const failAll = (e: Error) => {
    for (const p of reader.pending.values()) p.reject(e);
    reader.pending.clear();
  };
  return new Promise((resolve, reject) => {
    worker.on('message', (m: ReadDone | { ready: boolean; message?: string }) => {
      if ('ready' in m) {
        if (m.ready) resolve(reader);
        else reject(new ChronodiskError('io', `the image reader could not open the appliance: ${m.message}`));
        return;
      }
      const p = reader.pending.get(m.id);
      if (!p) return;
      reader.pending.delete(m.id);
      if (m.error) p.reject(m.error.code ? new ChronodiskError(m.error.code, m.error.message) : new Error(m.error.message));
      else p.resolve();
    });
    worker.on('error', (e) => {
      reject(e);
      failAll(e);
    });
    worker.on('exit', () => {
      reader.alive = false;
      reject(new ChronodiskError('io', 'the image reader stopped before it was ready'));
      failAll(new ChronodiskError('io', 'the image reader stopped'));
    });
  });
}
