import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ChronodiskError } from '../errors.js';
import { builtWorkerScript } from '../worker-script.js';
import { RECORD_HEADER_SIZE } from '../format/constants.js';
import { WRITE_FIELDS, type EncodedRun, type EncodeReply, type EncodeRequest } from './record-encoder.js';

/** Buffers kept for reuse per thread: enough for the requests in flight at the writer's high water (48 MiB). */
const SPARE_PER_THREAD = 32;
/** Requests queued on the least busy thread from which the next one is hurried (see encode()). */
const HURRY_QUEUE = 2;

interface Thread {
  worker: Worker;
  /** Requests sent and not yet answered. */
  outstanding: Map<number, { data: ArrayBuffer | SharedArrayBuffer; resolve: (r: EncodedRun) => void; reject: (e: Error) => void }>;
  /**
   * The shared memory the thread holds from the last request that lent one: later
   * requests over it do not send it again (posting a WebAssembly memory's
   * SharedArrayBuffer costs ~0.4 ms a message here, a plain one 17 µs).
   */
  memory: SharedArrayBuffer | undefined;
}

/**
 * Worker threads that encode write records (zstd, AES-GCM, xxh64), one per core, so a
 * commit uses every core while the writer's event loop only places records and syncs.
 * Threads start at the first request; they keep the process alive only while they have
 * work (an idle pool never holds a CLI open).
 */
export class EncoderPool {
  private threads: Thread[] = [];
  /** Request and output buffers done with: reused, since fresh memory costs page faults. */
  private spare: ArrayBuffer[] = [];
  private spareOut: ArrayBuffer[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly key: Buffer | undefined,
    readonly size = Math.max(1, Math.min(4, availableParallelism())),
  ) {}

  /** Whether the records are encrypted (the pool holds the data key). */
  get encrypted(): boolean {
    return this.key !== undefined;
  }

  /** A buffer of at least `size` bytes to gather a request in (a returned one when it fits). */
  buffer(size: number): Buffer {
    return Buffer.from(takeFitting(this.spare, size) ?? new ArrayBuffer(size));
  }

  /**
   * Encodes the writes of `req` on the least busy thread. `req.data` is transferred (an
   * ArrayBuffer) or read in place (a SharedArrayBuffer); the result's buffers belong to
   * the caller, who hands them back with recycle() once the records are written.
   */
  encode(req: Omit<EncodeRequest, 'id' | 'out'>): Promise<EncodedRun> {
    if (this.closed) return Promise.reject(new Error('the record encoder pool is closed'));
    const t = this.pick();
    const id = this.nextId++;
    // Room for the records, a little more than the thread needs (see encodeWrites): a
    // larger buffer would only travel (and count as fresh external memory) for nothing.
    let room = 0;
    for (let i = 4; i < req.writes.length; i += WRITE_FIELDS) room += RECORD_HEADER_SIZE + 128 + req.writes[i]! + (req.writes[i]! >> 7);
    const out = takeFitting(this.spareOut, room);
    const transfer = [...(req.data instanceof ArrayBuffer ? [req.data] : []), ...(out ? [out] : [])];
    // Every thread has work queued ahead of this request: the encoders are what holds the
    // writer back, so this one is compressed with the faster settings.
    const hurried = t.outstanding.size >= HURRY_QUEUE;
    const known = req.data === t.memory;
    if (req.data instanceof SharedArrayBuffer) t.memory = req.data;
    return new Promise<EncodedRun>((resolve, reject) => {
      t.outstanding.set(id, { data: req.data!, resolve, reject });
      if (t.outstanding.size === 1) t.worker.ref();
      t.worker.postMessage({ id, writes: req.writes, data: known ? undefined : req.data, out, hurried } satisfies EncodeRequest, transfer);
    });
  }

  /** Lets the threads drop the shared memory they hold (a capture batch that lent it ended). */
  forgetShared(): void {
    for (const t of this.threads) {
      if (!t.memory) continue;
      t.memory = undefined;
      t.worker.postMessage({ forget: true });
    }
  }

  /** Takes back the buffers of a run whose records are written (see encode()). */
  recycle(run: EncodedRun): void {
    const limit = SPARE_PER_THREAD * this.size;
    if (run.data.buffer instanceof ArrayBuffer && this.spare.length < limit) this.spare.push(run.data.buffer);
    if (run.bytes.buffer instanceof ArrayBuffer && this.spareOut.length < limit) this.spareOut.push(run.bytes.buffer);
  }

  close(): void {
    this.closed = true;
    for (const t of this.threads.splice(0)) {
      this.failAll(t, new Error('the record encoder pool was closed'));
      void t.worker.terminate();
    }
  }

  private pick(): Thread {
    if (this.threads.length < this.size) {
      const idle = this.threads.find((t) => t.outstanding.size === 0);
      if (idle) return idle;
      return this.start();
    }
    return this.threads.reduce((a, b) => (b.outstanding.size < a.outstanding.size ? b : a));
  }

  private start(): Thread {
    const worker = new Worker(workerScript(), { workerData: { key: this.key ? new Uint8Array(this.key) : null } });
    const t: Thread = { worker, outstanding: new Map(), memory: undefined };
    worker.unref();
    worker.on('message', (r: EncodeReply) => {
      const job = t.outstanding.get(r.id);
      if (!job) return;
      t.outstanding.delete(r.id);
      if (t.outstanding.size === 0) worker.unref();
      if (r.error !== undefined) job.reject(new ChronodiskError('internal', `encoding records failed: ${r.error}`));
      else job.resolve({ bytes: Buffer.from(r.out!), sizes: r.sizes!, flags: r.flags!, external: r.external!, data: Buffer.from(r.data ?? job.data) });
    });
    const lost = (why: string) => {
      this.threads = this.threads.filter((x) => x !== t);
      this.failAll(t, new ChronodiskError('internal', `a record encoder thread ${why}; the capture batches in flight were not committed`));
    };
    worker.on('error', (e) => lost(`failed: ${e.message}`));
    worker.on('exit', (code) => {
      if (!this.closed) lost(`exited with code ${code}`);
    });
    this.threads.push(t);
    return t;
  }

  private failAll(t: Thread, e: Error): void {
    const jobs = [...t.outstanding.values()];
    t.outstanding.clear();
    for (const j of jobs) j.reject(e);
  }
}

/** Removes and returns the smallest buffer of `list` that holds `size` bytes. */
function takeFitting(list: ArrayBuffer[], size: number): ArrayBuffer | undefined {
  let best = -1;
  for (let i = 0; i < list.length; i++) if (list[i]!.byteLength >= size && (best < 0 || list[i]!.byteLength < list[best]!.byteLength)) best = i;
  return best < 0 ? undefined : list.splice(best, 1)[0];
}

function workerScript(): URL {
  const url = builtWorkerScript(import.meta.url, 'record-encoder-worker.js');
  if (!url) throw new ChronodiskError('internal', 'the record encoder worker is not built (dist/ is missing); run npm run build');
  return url;
}
