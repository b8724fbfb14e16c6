import { receiveMessageOnPort, workerData, parentPort, type MessagePort } from 'node:worker_threads';
import { PayloadCodec } from '../format/payload-codec.js';
import { Ctl, JOB_FIELDS, Status, takeJob, type BuffersMessage } from './decode-pool.js';

/**
 * The other half of a DecodePool: sleeps on the batch number, then takes jobs from the
 * shared table (by the same compare-and-swap as the main thread) and decodes each into the
 * shared output buffer. A job that fails is only marked: the main thread decodes it again
 * to raise the proper error.
 */
const data = workerData as { key?: Uint8Array; port: MessagePort };
const codec = new PayloadCodec(data.key ? Buffer.from(data.key) : undefined);
const nowhere = () => 'a record';

parentPort!.once('message', (shared: { ctl: SharedArrayBuffer; jobs: SharedArrayBuffer; status: SharedArrayBuffer }) => {
  const ctl = new Int32Array(shared.ctl);
  const jobs = new Float64Array(shared.jobs);
  const status = new Int32Array(shared.status);
  let input: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  let output: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  // A dedicated thread: it blocks here between batches (terminate() ends the wait).
  for (let seen = 0; ; ) {
    Atomics.wait(ctl, Ctl.Gen, seen);
    const gen = Atomics.load(ctl, Ctl.Gen);
    seen = gen;
    for (let m = receiveMessageOnPort(data.port); m; m = receiveMessageOnPort(data.port)) {
      const b = m.message as BuffersMessage;
      input = Buffer.from(b.input);
      output = Buffer.from(b.output);
    }
    for (let i = takeJob(ctl, gen); i >= 0; i = takeJob(ctl, gen)) {
      const [at, length, flags, logical, aadAt, outAt] = jobs.subarray(i * JOB_FIELDS, (i + 1) * JOB_FIELDS) as unknown as number[];
      let s: number = Status.Done;
      try {
        codec.unpack(input.subarray(at!, at! + length!), flags!, logical!, input.subarray(aadAt!, aadAt! + 56), nowhere, output.subarray(outAt!, outAt! + logical!));
      } catch {
        s = Status.Failed;
      }
      Atomics.store(status, i, s);
      Atomics.add(ctl, Ctl.Finished, 1);
      Atomics.notify(ctl, Ctl.Finished);
    }
  }
});
