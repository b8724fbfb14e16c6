import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** One record to decode whole: its stored bytes and header (views of a shared buffer), and where the logical bytes go. */
export interface DecodeJob {
  stored: Buffer;
  aad: Buffer;
  flags: number;
  logical: number;
  into: Buffer;
}

/** What the main thread posts to the worker for a batch (all shared memory). */
export interface BatchMessage {
  ctl: SharedArrayBuffer;
  jobs: SharedArrayBuffer;
  status: SharedArrayBuffer;
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
  count: number;
}

/** Words of the control array: the next job to take, and how many jobs the worker finished. */
export const Ctl = { Next: 0, Finished: 1 } as const;
export const Status = { Pending: 0, Done: 2, Failed: 3 } as const;
/** Per job: stored at, stored length, flags, logical length, aad at, output at. */
export const JOB_FIELDS = 6;

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
  private broken = false;

  private constructor(private readonly worker: Worker) {
    worker.unref();
    worker.on('error', () => (this.broken = true));
  }

  /**
   * A pool, or undefined when the worker's compiled script is not there (sources run by
   * vitest: tests name the built one).
   */
  static start(key: Buffer | undefined, url = new URL('./decode-worker.js', import.meta.url)): DecodePool | undefined {
    if (!existsSync(fileURLToPath(url))) return undefined;
    return new DecodePool(new Worker(url, { workerData: { key } }));
  }

  get usable(): boolean {
    return !this.broken;
  }

  /**
   * Decodes every job (their `stored` and `aad` must be views of `input`). `here` decodes a
   * job on the calling thread, throwing the proper error for a damaged record; a job the
   * worker could not decode is given to `here` again, so errors read the same either way.
   */
  run(input: SharedArrayBuffer, jobs: DecodeJob[], here: (job: DecodeJob) => void): void {
    const n = jobs.length;
    const table = new Float64Array(new SharedArrayBuffer(n * JOB_FIELDS * 8));
    let total = 0;
    jobs.forEach((j, i) => {
      if (j.stored.buffer !== input || j.aad.buffer !== input) throw new Error('decode job outside the shared input');
      table.set([j.stored.byteOffset, j.stored.length, j.flags, j.logical, j.aad.byteOffset, total], i * JOB_FIELDS);
      total += j.logical;
    });
    if (this.output.byteLength < total) this.output = new SharedArrayBuffer(total);
    const ctl = new Int32Array(new SharedArrayBuffer(8));
    const status = new Int32Array(new SharedArrayBuffer(n * 4));
    const message: BatchMessage = { ctl: ctl.buffer as SharedArrayBuffer, jobs: table.buffer as SharedArrayBuffer, status: status.buffer as SharedArrayBuffer, input, output: this.output, count: n };
    this.worker.postMessage(message);
    const mine = new Set<number>();
    try {
      for (let i = Atomics.add(ctl, Ctl.Next, 1); i < n; i = Atomics.add(ctl, Ctl.Next, 1)) {
        mine.add(i);
        here(jobs[i]!);
      }
    } finally {
      // On an error too: no job is left to take, and the worker's are waited for, so
      // nothing still reads `input` when the caller reuses it.
      const taken = Math.min(n, Atomics.add(ctl, Ctl.Next, n));
      this.await(ctl, taken - mine.size);
    }
    const output = Buffer.from(this.output);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const j = jobs[i]!;
      if (!mine.has(i)) {
        if (Atomics.load(status, i) === Status.Done) output.copy(j.into, 0, at, at + j.logical);
        else here(j); // failed, or the worker was given up
      }
      at += j.logical;
    }
  }

  private await(ctl: Int32Array, count: number): void {
    const deadline = Date.now() + STUCK_MS;
    for (let f = Atomics.load(ctl, Ctl.Finished); f < count; f = Atomics.load(ctl, Ctl.Finished)) {
      if (Date.now() > deadline) {
        this.broken = true;
        return;
      }
      Atomics.wait(ctl, Ctl.Finished, f, 1000);
    }
  }

  close(): void {
    void this.worker.terminate();
  }
}
