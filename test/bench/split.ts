import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fmtMBps, fmtRatio, log, mbps, MiB, now, report, scaled, tempDir, verdict, writeBack } from './measure.js';
import { bestCopy, cli, exec, fileOf, fileSha256, startChronodisk, startNbdkit, type RunningServer } from './nbd-servers.js';

/**
 * Split capture's durable write throughput (issue 5, target ≥ 50% of nbdkit): nbdcopy
 * --flush of a random image through `chronodisk split` (every write committed durably to
 * the appliance, then applied to the source, then acknowledged) beside nbdkit's file plugin
 * writing the same image into a plain file, same run, same client, runs interleaved, best
 * of three each. The source is checked against the image afterwards (untimed).
 *
 * Split writes every byte twice (the appliance's segment and the source), nbdkit once: beside
 * them, dd writes the image into one plain file, and into two at once, each with an
 * fdatasync. The two-file row is what the disk allows split with no software at all.
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
    log(`  image: ${size / MiB} MiB of random bytes, page cache warm, dirty pages written back before each timed copy; split appliance on the same disk as its source`);
    let [splitMs, kitMs, oneMs, twoMs] = [Infinity, Infinity, Infinity, Infinity];
    for (let i = 0; i < RUNS; i++) {
      splitMs = Math.min(splitMs, await bestCopy(1, ['--flush', image, split.uri]));
      kitMs = Math.min(kitMs, await bestCopy(1, ['--flush', image, kit.uri], () => fileOf(kitTarget, size, false)));
      oneMs = Math.min(oneMs, await plainCopies(dir.path, image, 1));
      twoMs = Math.min(twoMs, await plainCopies(dir.path, image, 2));
    }
    if (fileSha256(source) !== fileSha256(image)) throw new Error('the split source differs from the image written through it');
    const r = (ms: number) => mbps(size, ms);
    report({
      title: 'Split write: nbdcopy --flush of the image through chronodisk split (durable), beside nbdkit file',
      columns: ['server', 'throughput', 'vs nbdkit'],
      rows: [
        ['nbdkit file', fmtMBps(r(kitMs)), '1.00×'],
        ['chronodisk split (appliance commit + source write per request)', fmtMBps(r(splitMs)), fmtRatio(r(splitMs), r(kitMs))],
        ['dd conv=fdatasync into one plain file (the disk alone)', fmtMBps(r(oneMs)), fmtRatio(r(oneMs), r(kitMs))],
        ['dd conv=fdatasync into two plain files at once, per file', fmtMBps(r(twoMs)), fmtRatio(r(twoMs), r(kitMs))],
      ],
      notes: [
        'split acknowledges a write only once it is a durable point in the appliance and applied to the source',
        `split writes each byte twice (appliance and source), as the two-file dd does: that row is the most split can reach on this disk; split reached ${fmtRatio(r(splitMs), r(twoMs))} of it`,
        `target: split ≥ ${TARGET * 100}% of nbdkit — ${verdict(r(splitMs) >= TARGET * r(kitMs))}`,
      ],
      data: { nbdkit: { mbps: r(kitMs) }, split: { mbps: r(splitMs), ratio: kitMs / splitMs }, disk: { oneFileMbps: r(oneMs), twoFilesMbps: r(twoMs) } },
    });
  } finally {
    await split?.stop();
    await kit?.stop();
    dir.remove();
  }
}

/** Milliseconds for dd to write `image` into `n` new plain files at once, each ending with an fdatasync. */
async function plainCopies(dir: string, image: string, n: number): Promise<number> {
  const outs = Array.from({ length: n }, (_, i) => join(dir, `plain-${i}.raw`));
  writeBack();
  const t0 = now();
  await Promise.all(outs.map((out) => exec('dd', [`if=${image}`, `of=${out}`, 'bs=1M', 'conv=fdatasync', 'status=none'])));
  const ms = now() - t0;
  for (const out of outs) rmSync(out, { force: true });
  return ms;
}
