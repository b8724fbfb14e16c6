import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { builtWorkerScript } from '../worker-script.js';

/** One record to decode whole: its stored bytes and header (views of a shared buffer), and where the logical bytes go. */
export interface DecodeJob {
  stored: Buffer;
  aad: Buffer;
  flags: number;
  logical: number;
  into: Buffer;
}

/** The buffers a batch reads and writes, sent to the worker when they change. */
export interface BuffersMessage {
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
}

/**
 * Words of the control array. Gen: the batch number (the worker sleeps on it). Next: the
 * batch number (low 15 bits) << 16 | the next job to take — taken by compare-and-swap, so a
 * thread that is late for one batch can never take a job of the next. Count: jobs in the
 * batch. Finished: jobs the worker has finished in it.
 */
export const Ctl = { Gen: 0, Next: 1, Count: 2, Finished: 3 } as const;
export const Status = { Pending: 0, Done: 2, Failed: 3 } as const;
/** Per job: stored at, stored length, flags, logical length, aad at, output at. */
export const JOB_FIELDS = 6;
/** Jobs in one batch at most (16 MiB of 4 KiB records). */
export const MAX_JOBS = 4096;

/** Takes the next job of batch `gen`, or returns -1 when it has none left (or is over). */
export function takeJob(ctl: Int32Array, gen: number): number {
  for (;;) {
    const v = Atomics.load(ctl, Ctl.Next);
    const i = v & 0xffff;
    if (v >>> 16 !== (gen & 0x7fff) || i >= Atomics.load(ctl, Ctl.Count)) return -1;
    if (Atomics.compareExchange(ctl, Ctl.Next, v, v + 1) === v) return i;
  }
}

/** Below this many logical bytes a batch is decoded on the main thread alone (a hand-off costs ~0.1 ms). */
export const MIN_BATCH_BYTES = 512 * 1024;
/** A worker that has not finished its jobs by then is given up (the main thread does them). */
const STUCK_MS = 30_000;

/**
 * Decompression (and decryption) of large reads on two threads: the records of a batch
 * are taken one by one from a shared counter by the main thread and by one worker, so a
 * busy core slows the batch, never stalls it. The caller's API stays synchronous: the main
 * thread waits (Atomics.wait) only for the jobs the worker actually took. The worker writes
 * into its own shared buffer; the main thread copies those bytes to their place.
 */
export class DecodePool {
  private output = new SharedArrayBuffer(0);
  private sentInput: SharedArrayBuffer | undefined;
  private sentOutput: SharedArrayBuffer | undefined;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(4 * 4));
  private readonly jobs = new Float64Array(new SharedArrayBuffer(MAX_JOBS * JOB_FIELDS * 8));
  private readonly status = new Int32Array(new SharedArrayBuffer(MAX_JOBS * 4));
  private gen = 0;
  private broken = false;

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
  ) {
    worker.unref();
    worker.on('error', () => (this.broken = true));
  }

  /**
   * A pool, or undefined when the worker's compiled script is not there (sources run by
   * vitest: tests name the built one).
   */
  static start(key: Buffer | undefined, url = builtWorkerScript(import.meta.url, 'decode-worker.js')): DecodePool | undefined {
    if (!url) return undefined;
    const { port1, port2 } = new MessageChannel();
    const pool = new DecodePool(new Worker(url, { workerData: { key, port: port2 }, transferList: [port2] }), port1);
    pool.worker.postMessage({ ctl: pool.ctl.buffer, jobs: pool.jobs.buffer, status: pool.status.buffer });
    return pool;
  }

  get usable(): boolean {
    return !this.broken;
  }

  /**
   * Decodes every job (at most MAX_JOBS; their `stored` and `aad` must be views of `input`).
   * `here` decodes a job on the calling thread, throwing the proper error for a damaged
   * record; a job the worker could not decode is given to `here` again, so errors read the
   * same either way.
   */
  run(input: SharedArrayBuffer, jobs: DecodeJob[], here: (job: DecodeJob) => void): void {
    const n = jobs.length;
    if (n > MAX_JOBS) throw new RangeError(`${n} decode jobs in one batch (at most ${MAX_JOBS})`);
    let total = 0;
    jobs.forEach((j, i) => {
      if (j.stored.buffer !== input || j.aad.buffer !== input) throw new Error('decode job outside the shared input');
      this.jobs.set([j.stored.byteOffset, j.stored.length, j.flags, j.logical, j.aad.byteOffset, total], i * JOB_FIELDS);
      total += j.logical;
    });
    if (this.output.byteLength < total) this.output = new SharedArrayBuffer(total);
    if (input !== this.sentInput || this.output !== this.sentOutput) {
      // Queued before the batch starts: the worker drains its port when it wakes.
      const m: BuffersMessage = { input, output: this.output };
      this.port.postMessage(m);
      this.sentInput = input;
      this.sentOutput = this.output;
    }
    const gen = ++this.gen;
    this.status.fill(Status.Pending, 0, n);
    Atomics.store(this.ctl, Ctl.Finished, 0);
    Atomics.store(this.ctl, Ctl.Count, n);
    Atomics.store(this.ctl, Ctl.Next, (gen & 0x7fff) << 16);
    Atomics.store(this.ctl, Ctl.Gen, gen);
    Atomics.notify(this.ctl, Ctl.Gen);
    const mine = new Set<number>();
    try {
      for (let i = takeJob(this.ctl, gen); i >= 0; i = takeJob(this.ctl, gen)) {
        mine.add(i);
        here(jobs[i]!);
      }
    } finally {
      // On an error too: no job is left to take, and the worker's are waited for, so
      // nothing still reads `input` when the caller reuses it.
      for (let i = takeJob(this.ctl, gen); i >= 0; i = takeJob(this.ctl, gen)) mine.add(i);
      this.await(n - mine.size);
    }
    const output = Buffer.from(this.output);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const j = jobs[i]!;
      if (!mine.has(i)) {
        if (Atomics.load(this.status, i) === Status.Done) output.copy(j.into, 0, at, at + j.logical);
        else here(j); // failed, or the worker was given up
      }
      at += j.logical;
    }
  }

  private await(count: number): void {
    const deadline = Date.now() + STUCK_MS;
    for (let f = Atomics.load(this.ctl, Ctl.Finished); f < count; f = Atomics.load(this.ctl, Ctl.Finished)) {
      if (Date.now() > deadline) {
        this.broken = true;
        return;
      }
      Atomics.wait(this.ctl, Ctl.Finished, f, 1000);
    }
  }

  close(): void {
    this.port.close();
    void this.worker.terminate();
  }
}
