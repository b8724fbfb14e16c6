/**
 * One reader thread of ImageReadPool: opens the appliance read-only and fills the shared
 * reply buffers it is handed with time-image bytes. See image-read-pool.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Appliance } from '../appliance.js';
import { isChronodiskError } from '../errors.js';
import type { TimeImage } from '../time-image.js';
import type { ReadDone, ReadJob, WorkerSetup } from './image-read-pool.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;

try {
  const app = await Appliance.open(setup.dir, { passphrase: setup.passphrase });
  const images = new Map<string, TimeImage>();
  port.on('message', (job: ReadJob) => {
    const done: ReadDone = { id: job.id };
    try {
      const key = `${job.disk}@${job.seq}`;
      let image = images.get(key);
      if (!image) images.set(key, (image = app.image(app.disk(job.disk), job.seq)));
      image.readInto(Buffer.from(job.buffer, job.byteOffset, job.length), job.offset);
    } catch (e) {
      done.error = { message: e instanceof Error ? e.message : String(e), code: isChronodiskError(e) ? e.code : undefined };
    }
    port.postMessage(done);
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ ready: false, message: e instanceof Error ? e.message : String(e) });
}
