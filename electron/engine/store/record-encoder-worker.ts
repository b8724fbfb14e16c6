import { parentPort, workerData } from 'node:worker_threads';
import { PayloadCodec } from '../format/payload-codec.js';
import { encodeWrites, type EncodeReply, type EncodeRequest } from './record-encoder.js';

/**
 * A record encoder thread (see EncoderPool): zstd, AES-GCM and checksums of write records
 * off the writer's event loop. It holds the data key in memory, like the writer does.
 */
const key = (workerData as { key: Uint8Array | null }).key;
const codec = new PayloadCodec(key ? Buffer.from(key) : undefined);
const port = parentPort!;
/** The shared memory lent by the last request that sent one (later ones refer to it). */
let memory: SharedArrayBuffer | undefined;

/** The buffers of a reply to hand back by transfer (lent shared memory stays where it is). */
function transferable(...bufs: Array<ArrayBuffer | SharedArrayBuffer | undefined>): ArrayBuffer[] {
  return bufs.filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

port.on('message', (req: EncodeRequest | { forget: true }) => {
  if ('forget' in req) {
    memory = undefined;
    return;
  }
  if (req.data instanceof SharedArrayBuffer) memory = req.data;
  let reply: EncodeReply;
  try {
    reply = encodeWrites(codec, req, memory);
  } catch (e) {
    const data = req.data instanceof ArrayBuffer ? req.data : undefined;
    port.postMessage({ id: req.id, data, out: req.out, error: e instanceof Error ? e.message : String(e) } satisfies EncodeReply, transferable(data, req.out));
    return;
  }
  port.postMessage(reply, transferable(reply.data, reply.out));
});
