import { parentPort, workerData } from 'node:worker_threads';
import { PayloadCodec } from '../format/payload-codec.js';
import { Ctl, JOB_FIELDS, Status, type BatchMessage } from './decode-pool.js';

/**
 * The other half of a DecodePool: takes jobs from the shared table (the same counter the
 * main thread takes them from) and decodes each into the shared output buffer. A job that
 * fails is only marked: the main thread decodes it again to raise the proper error.
 */
const codec = new PayloadCodec((workerData as { key?: Uint8Array }).key ? Buffer.from((workerData as { key: Uint8Array }).key) : undefined);
const nowhere = () => 'a record';

parentPort!.on('message', (m: BatchMessage) => {
  const ctl = new Int32Array(m.ctl);
  const jobs = new Float64Array(m.jobs);
  const status = new Int32Array(m.status);
  const input = Buffer.from(m.input);
  const output = Buffer.from(m.output);
  for (;;) {
    const i = Atomics.add(ctl, Ctl.Next, 1);
    if (i >= m.count) break;
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
});
