/**
 * The child process of test/retention/lost-batch.test.ts: opens the appliance as its writer
 * and writes one batch of disk `d` — over and over, a MiB at a time, each placed before the
 * next so that segments rotate between placements — until the appliance has TARGET segment
 * files; then prints `ready` and waits, never committing, to be SIGKILLed.
 *
 * Usage: node lost-batch-writer.js DIR TARGET SEGMENT_SIZE DISK_SIZE
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';

async function main(): Promise<void> {
  const [dir, target, segmentSize, diskSize] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a))) as [string, number, number, number];
  if (!dir || !target || !segmentSize || !diskSize) throw new Error('usage: lost-batch-writer DIR TARGET SEGMENT_SIZE DISK_SIZE');
  const app = await Appliance.open(dir, { writable: true, command: 'lost-batch-writer', segmentTargetSize: segmentSize });
  const b = app.beginBatch(app.disk('d'));
  const MiB = 1024 * 1024;
  for (let at = 0, n = 0; readdirSync(join(dir, 'segments')).length < target; at = (at + MiB) % diskSize) {
    if (++n > 1000) throw new Error(`the batch did not fill ${target} segments`);
    for (let i = 0; i < 16; i++) b.write(at + i * 65536, randomBytes(65536));
    await b.drained();
    await new Promise((r) => setTimeout(r, 20));
  }
  process.stdout.write('ready\n');
  setInterval(() => {}, 1000);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
