import { join } from 'node:path';
import { fmtMBps, fmtRatio, log, mbps, MiB, report, scaled, tempDir, verdict } from './measure.js';
import { bestCopy, cli, exec, fileOf, fileSha256, startChronodisk, startNbdkit, type RunningServer } from './nbd-servers.js';

/**
 * Split capture's durable write throughput (issue 5, target ≥ 50% of nbdkit): nbdcopy
 * --flush of a random image through `chronodisk split` (every write committed durably to
 * the appliance, then applied to the source, then acknowledged) beside nbdkit's file plugin
 * writing the same image into a plain file, same run, same client, runs interleaved, best
 * of three each. The source is checked against the image afterwards (untimed).
 */

const TARGET = 0.5;
const RUNS = 3;

export async function benchSplit(): Promise<void> {
  const dir = tempDir('split');
  const size = scaled(256 * MiB, MiB);
  const image = join(dir.path, 'image.raw');
  const kitTarget = join(dir.path, 'kit.raw');
  const source = join(dir.path, 'source.raw');
  const app = join(dir.path, 'app');
  fileOf(image, size, true);
  fileOf(kitTarget, size, false);
  fileOf(source, size, false);
  await exec(process.execPath, [cli, 'init', app]);
  await exec(process.execPath, [cli, 'protect', source, '-a', app, '--mode', 'split', '--name', 'vm']);
  let kit: RunningServer | undefined;
  let split: RunningServer | undefined;
  try {
    kit = await startNbdkit(dir.path, 'kit', kitTarget, false);
    // The first split start takes the baseline scan of the (empty) source before listening.
    split = await startChronodisk(dir.path, 'split', ['split', '-a', app, 'vm'], 'vm', '"listening"');
    log(`  image: ${size / MiB} MiB of random bytes, page cache warm; split appliance on the same disk as its source`);
    let [splitMs, kitMs] = [Infinity, Infinity];
    for (let i = 0; i < RUNS; i++) {
      splitMs = Math.min(splitMs, await bestCopy(1, ['--flush', image, split.uri]));
      kitMs = Math.min(kitMs, await bestCopy(1, ['--flush', image, kit.uri], () => fileOf(kitTarget, size, false)));
    }
    if (fileSha256(source) !== fileSha256(image)) throw new Error('the split source differs from the image written through it');
    const r = (ms: number) => mbps(size, ms);
    report({
      title: 'Split write: nbdcopy --flush of the image through chronodisk split (durable), beside nbdkit file',
      columns: ['server', 'throughput', 'vs nbdkit'],
      rows: [
        ['nbdkit file', fmtMBps(r(kitMs)), '1.00×'],
        ['chronodisk split (appliance commit + source write per request)', fmtMBps(r(splitMs)), fmtRatio(r(splitMs), r(kitMs))],
      ],
      notes: [
        'split acknowledges a write only once it is a durable point in the appliance and applied to the source',
        `target: split ≥ ${TARGET * 100}% of nbdkit — ${verdict(r(splitMs) >= TARGET * r(kitMs))}`,
      ],
      data: { nbdkit: { mbps: r(kitMs) }, split: { mbps: r(splitMs), ratio: kitMs / splitMs } },
    });
  } finally {
    await split?.stop();
    await kit?.stop();
    dir.remove();
  }
}
