import { parentPort, workerData } from 'node:worker_threads';
import { uuidBytes } from '../format/appliance-header.js';
import { PayloadCodec } from '../format/payload-codec.js';
import { Catalog } from '../store/catalog.js';
import { SegmentFiles } from '../store/segment-file.js';
import { catchUpInOneTransaction } from './catch-up.js';
import { IndexDb } from './index-db.js';
import type { RebuildReply, RebuildRequest } from './index-rebuild.js';

/**
 * The index rebuilt on a thread of its own (see index-rebuild.ts): its own read-only view
 * of the catalog and segments, its own connection to the index file, one transaction.
 */
const req = workerData as RebuildRequest;
const port = parentPort!;
const send = (reply: RebuildReply) => port.postMessage(reply);

const codec = new PayloadCodec(req.key ? Buffer.from(req.key) : undefined);
let catalog: Catalog | undefined;
let files: SegmentFiles | undefined;
let index: IndexDb | undefined;
try {
  catalog = Catalog.open(req.dir, codec, false, uuidBytes(req.applianceId));
  files = new SegmentFiles(req.dir);
  index = IndexDb.openBeside(req.dir);
  const src = { dir: req.dir, applianceId: req.applianceId, catalog, files, codec };
  // At most every 100 ms: a split history has a commit per write.
  let sent = 0;
  const onProgress = (step: 'scan' | 'apply', done: number, total: number) => {
    const now = Date.now();
    if (now - sent < 100 && done < total) return;
    sent = now;
    send({ progress: { step, done, total } });
  };
  const r = catchUpInOneTransaction(index, src, { fresh: true, onProgress });
  send({ done: { ...index.counts(), problems: r.problems } });
} catch (e) {
  const err = e as { message?: string; code?: string; remedy?: string };
  send({ error: { message: err.message ?? String(e), code: err.code, remedy: err.remedy } });
} finally {
  index?.close();
  files?.close();
  catalog?.close();
}
