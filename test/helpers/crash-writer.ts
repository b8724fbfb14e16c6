/**
 * The child process of the crash test: opens the appliance as its writer and commits
 * planned batches (see crash-plan.ts) until it is SIGKILLed. Prints `ready` once open, then
 * `ack SEQ DISK LABEL` after each commit is acknowledged as durable — stdout to a pipe is
 * synchronous on Linux, so a printed line means the ack happened before the kill.
 *
 * Usage: node crash-writer.js DIR ROUND   (env CHRONODISK_CRASH_SEGMENT_SIZE: segment target size)
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Appliance } from '../../electron/engine/appliance.js';
import { planBatch } from './crash-plan.js';
import { prng } from './history.js';

async function main(): Promise<void> {
  const [dir, roundText] = process.argv.slice(2);
  if (!dir || !roundText) throw new Error('usage: crash-writer DIR ROUND');
  const round = Number(roundText);
  const segmentTargetSize = Number(process.env.CHRONODISK_CRASH_SEGMENT_SIZE) || undefined;
  const app = await Appliance.open(dir, { writable: true, command: 'crash-writer', segmentTargetSize });
  const disks = app.disks();
  const rand = prng(round * 7919 + 17);
  process.stdout.write('ready\n');
  for (let n = 0; ; ) {
    // A group of 1–3 batches whose commits are in flight together (group commit); new
    // writes go into the segment while earlier commits wait for their fdatasync.
    const inFlight: Array<Promise<void>> = [];
    const group = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < group; i++) {
      const disk = disks[Math.floor(rand() * disks.length)]!;
      const label = `r${round}b${n++}`;
      const writes = planBatch(label, disk.size);
      const batch = app.beginBatch(disk);
      const pauseAt = rand() < 0.3 ? Math.floor(rand() * writes.length) : -1;
      for (let k = 0; k < writes.length; k++) {
        // Sometimes let a pending sync flush half of this batch before the rest is written.
        if (k === pauseAt) await yieldToLoop();
        const w = writes[k]!;
        if (w.zero) batch.writeZeroes(w.offset, w.length);
        else batch.write(w.offset, w.data);
      }
      if (rand() < 0.05) {
        batch.abort(); // never committed: its records sit in the segment, never visible
        continue;
      }
      inFlight.push(batch.commit({ label }).then((p) => void process.stdout.write(`ack ${p.seq} ${disk.name} ${label}\n`)));
      if (rand() < 0.5) await yieldToLoop();
    }
    await Promise.all(inFlight);
    if (rand() < 0.3) await new Promise((r) => setTimeout(r, Math.floor(rand() * 3)));
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`crash-writer: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(3);
});
