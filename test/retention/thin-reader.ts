/**
 * A reader process for thin-readers.test.ts: opens the appliance read-only once, then reads
 * the images of the points it is given, again and again, until `stop` appears — comparing
 * each with its expected sha256. Prints one JSON line: {reads, wrong, errors, removedSeen}.
 * Prints `read START END` (ms) after each image and `loop N` after each round. argv: dir, stopFile, JSON [{seq, hash}] of kept points, removed seq.
 */
import { existsSync } from 'node:fs';
import { Appliance } from '../../electron/engine/appliance.js';
import { isChronodiskError } from '../../electron/engine/errors.js';
import { imageHash } from '../helpers/history.js';

const [dir, stopFile, keptJson, removedSeq] = process.argv.slice(2) as [string, string, string, string];
const kept = JSON.parse(keptJson) as Array<{ seq: number; hash: string }>;
const app = await Appliance.open(dir);
const disk = app.disk('a');
const removed = app.image(disk, Number(removedSeq));
const out = { reads: 0, wrong: [] as string[], errors: [] as string[], removedSeen: '' };
for (let loop = 1; !existsSync(stopFile); loop++) {
  for (const k of kept) {
    try {
      const t = Date.now();
      const h = imageHash(app, disk, k.seq);
      console.log(`read ${t} ${Date.now()}`);
      out.reads++;
      if (h !== k.hash) out.wrong.push(`point ${k.seq} read other bytes (read ${out.reads})`);
    } catch (e) {
      out.errors.push(String(e));
    }
  }
  try {
    removed.readSync(0, 4096);
  } catch (e) {
    if (isChronodiskError(e, 'not-found')) out.removedSeen = (e as Error).message;
    else out.errors.push(String(e));
  }
  console.log(`loop ${loop}`);
}
app.close();
console.log(JSON.stringify({ ...out, wrong: out.wrong.slice(0, 5), errors: out.errors.slice(0, 5), wrongCount: out.wrong.length, errorCount: out.errors.length }));
